#!/usr/bin/env bash
# The gpu backend on this machine, against the cpu kernels in the same process: for a plain Linux box
# with the NVIDIA driver (or any Vulkan driver), no Docker, no X. Prints the adapter, every kernel at
# 128^3, 256^3 and 512^3 on gpu and cpu (equality checked, MVx/s including upload and readback),
# then one ingest + downsample and one mesh run per backend through the worker pool.
#   bench/gpu-device.sh [--sizes 128,256,512] [--task-size 256] [--threads N]
# Needs node 20 and npm; installs and builds on first use. Exits non-zero if gpu and cpu differ.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=128,256,512 TASK_SIZE=256 THREADS=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --task-size) TASK_SIZE=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    *) echo "bench/gpu-device.sh: unknown flag $1" >&2; exit 2 ;;
  esac
done
# GKE and most NVIDIA installs put the driver's libraries here; Dawn finds Vulkan through them.
export LD_LIBRARY_PATH=/usr/local/nvidia/lib64:/usr/local/nvidia/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
[ -d node_modules ] || npm ci --no-audit --no-fund
[ -f dist/cli/main.js ] && [ -f dist/assembly/kernels.wasm ] || npm run build

echo "## adapter"
ls /dev/nvidia* /dev/dri/renderD* 2>/dev/null || echo "(no GPU device node)"
node dist/kernels/gpu/adapter-probe.js; echo

echo "## kernels, gpu vs cpu"
node dist/bench/kernels.js --sizes "$SIZES"

for backend in cpu gpu; do
  echo "## ingest + downsample, $TASK_SIZE^3 uint8 raw and uint64 compressed_segmentation, --backend $backend"
  node --expose-gc dist/bench/ingest-downsample.js --size "$TASK_SIZE" --threads "$THREADS" --backend "$backend" --only raw,compressed --dir "/tmp/digest-gpu-bench-$backend"
  echo "## mesh, $TASK_SIZE^3, --backend $backend"
  node dist/bench/mesh.js --size "$TASK_SIZE" --threads "$THREADS" --backend "$backend" --levels 0 --dir "/tmp/digest-gpu-bench-mesh-$backend"
done
