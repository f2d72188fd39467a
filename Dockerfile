# digest worker image. Two stages: the build stage compiles the TypeScript and the WebAssembly kernels
# and drops the dev dependencies; the runtime stage is node's slim image with the Vulkan loader (Dawn,
# the WebGPU behind the gpu backend, opens the GPU through it; no X, no GL build) and tini to pass
# SIGTERM on (the worker drains on it).
#   docker build -t digest .
#   docker run --rm digest --help
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY affinities affinities
COPY assembly assembly
COPY bench bench
COPY codecs codecs
COPY common common
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
 && apt-get install -y --no-install-recommends libvulkan1 tini \
 && rm -rf /var/lib/apt/lists/*
# GKE's device plugin mounts the NVIDIA driver libraries at /usr/local/nvidia/lib64 and the Vulkan ICD
# into /etc/vulkan/icd.d; "graphics" asks the NVIDIA container runtime for the Vulkan parts elsewhere.
ENV NODE_ENV=production \
    DIGEST_HEALTH_PORT=8080 \
    LD_LIBRARY_PATH=/usr/local/nvidia/lib64:/usr/local/nvidia/lib \
    NVIDIA_VISIBLE_DEVICES=all \
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
