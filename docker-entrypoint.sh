#!/bin/sh
# Gives headless-gl an X display when there is none (Xvfb: Mesa's software GL; on a GPU node an X
# server on the NVIDIA driver must provide DISPLAY instead, see README), then runs the digest CLI as
# this shell's replacement, so tini's SIGTERM reaches it.
set -e
if [ -z "$DISPLAY" ] && [ "${DIGEST_BACKEND:-auto}" != "cpu" ]; then
  Xvfb :99 -screen 0 64x64x24 -nolisten tcp >/dev/null 2>&1 &
  export DISPLAY=:99
fi
exec node /app/dist/engine/cli.js "$@"
