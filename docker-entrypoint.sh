#!/bin/sh
# Runs the digest CLI as this shell's replacement, so tini's SIGTERM reaches it (the worker drains).
# No display is needed: the gpu backend is WebGPU on Dawn (Vulkan on the NVIDIA driver).
set -e
exec node /app/dist/cli/main.js "$@"
