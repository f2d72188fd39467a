# digest worker image. Two stages: the build stage compiles the TypeScript and the WebAssembly
# kernels and keeps only what runs (production dependencies, this platform's binaries, no tests or
# benchmarks); the runtime stage is node's slim image with the Vulkan loader (Dawn, the WebGPU behind
# the gpu backend, opens the GPU through it; no X, no GL) and tini to pass SIGTERM on (the worker
# drains on it). A build step fails if the GPU stack does not load.
#   docker build -t digest .
#   docker run --rm digest --help
# Where npm needs an extra CA certificate (a proxy), pass it as a secret; it is not kept in any layer:
#   docker build --secret id=npm-ca,src=/path/to/ca.pem -t digest .
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi; \
    npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY affinities affinities
COPY assembly assembly
COPY bench bench
COPY cli cli
COPY codecs codecs
COPY common common
COPY demo demo
COPY kernels kernels
COPY mesh mesh
COPY precomputed precomputed
COPY queue queue
COPY runtime runtime
COPY server server
COPY skeletons skeletons
COPY sources sources
COPY storage storage
COPY tasks tasks
COPY test test
COPY wasm wasm
COPY viewer viewer
# Pruned: dev dependencies; typescript (valibot's optional peer, never loaded at run time); the
# benchmarks and test helpers; Dawn's and libjpeg-turbo's binaries for other platforms.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/typescript dist/bench dist/test \
 && platform=$(node -p 'process.platform + "-" + process.arch') \
 && find node_modules/webgpu/dist -mindepth 1 -maxdepth 1 ! -name "$platform" -exec rm -rf {} + \
 && find node_modules/@julusian/jpeg-turbo/prebuilds -mindepth 1 -maxdepth 1 ! -name "jpeg-turbo-$platform" -exec rm -rf {} +

FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvulkan1 tini \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
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
# The GPU stack must load here (Dawn's binary and the Vulkan loader), GPU or not.
RUN node dist/cli/main.js gpu-check --stack-only \
 && mkdir /work && chown node:node /work
# A writable working directory for the node user (digest demo writes ./demo-data).
WORKDIR /work
USER node
EXPOSE 8080
ENTRYPOINT ["tini", "--", "docker-entrypoint.sh"]
CMD ["work"]
