# digest worker image. Two stages: the build stage compiles the TypeScript and headless-gl (from the
# sources in its npm package, as .ci/run does: .prebuild-installrc says build from source), then drops the dev
# dependencies; the runtime stage is node's slim image with only the shared libraries gl needs, Xvfb
# for a GL display, and tini to pass SIGTERM on (the worker drains on it).
#   docker build -t digest .
#   docker run --rm digest --help
FROM node:20-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential python3 pkg-config libx11-dev libxi-dev libxext-dev libgl1-mesa-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .prebuild-installrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY affinities affinities
COPY bench bench
COPY codecs codecs
COPY engine engine
COPY kernels kernels
COPY mesh mesh
COPY precomputed precomputed
COPY storage storage
COPY tasks tasks
COPY test test
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglx-mesa0 libgl1-mesa-dri libx11-6 libxi6 libxext6 xvfb xauth tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    DIGEST_HEALTH_PORT=8080 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY docker-entrypoint.sh /usr/local/bin/
USER node
EXPOSE 8080
ENTRYPOINT ["tini", "--", "docker-entrypoint.sh"]
CMD ["work"]
