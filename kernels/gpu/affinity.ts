// WebGPU boundary-affinity kernel (WGSL on Dawn); same contract and results as ../affinity.ts, bit
// for bit: labels are compared as 32-bit word pairs, affinities pass through as bits.
import { BoundaryInput, checkBoundaryInput } from '../affinity.js';
import { dispatch, GpuDevice, INDEX_WGSL, readBack, storage, uniforms, upload, WORKGROUP, zSlabs } from './device.js';

function boundaryShader(words: 1 | 2): string {
  const label = words === 2 ? 'vec2u(labels[2u * i], labels[2u * i + 1u])' : 'vec2u(labels[i], 0u)';
  return /* wgsl */ `
struct Params { sx: u32, sy: u32, slices: u32, halo: u32, firstZ: u32, voxels: u32 }
@group(0) @binding(0) var<storage, read> labels: array<u32>;
@group(0) @binding(1) var<storage, read> affinities: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;
${INDEX_WGSL}
fn label(i: u32) -> vec2u { return ${label}; }
const NOT_BOUNDARY = 0xbf800000u; // -1.0
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  // Work item v: one voxel of the slab's own slices (after the halo slice, when there is one).
  let v = linearIndex(gid, groups);
  if (v >= p.voxels) { return; }
  let slice = p.sx * p.sy;
  let x = v % p.sx;
  let y = (v / p.sx) % p.sy;
  let z = v / slice;
  let at = v + p.halo * slice;
  let a = label(at);
  let labelled = any(a != vec2u(0u));
  var back = array<u32, 3>(1u, p.sx, slice);
  var has = array<bool, 3>(x > 0u, y > 0u, p.firstZ + z > 0u);
  for (var c = 0u; c < 3u; c += 1u) {
    var r = NOT_BOUNDARY;
    if (labelled && has[c]) {
      let b = label(at - back[c]);
      if (any(b != vec2u(0u)) && any(a != b)) { r = affinities[c * p.slices * slice + at]; }
    }
    out[c * p.voxels + v] = r;
  }
}`;
}

export async function gpuBoundaryAffinities(gpu: GpuDevice, input: BoundaryInput): Promise<Float32Array> {
  const n = checkBoundaryInput(input);
  const [sx, sy, sz] = input.shape;
  const slice = sx * sy;
  const words = input.labels instanceof BigUint64Array ? 2 : 1;
  const pipeline = gpu.pipeline(`boundary-${words}`, boundaryShader(words));
  const out = new Float32Array(3 * n);
  // Per slab: its slices and the one below (z edges look back one slice); 3 affinity channels in,
  // 12 bytes a voxel, the halo slice included.
  for (const [z0, z1] of zSlabs(sz, slice * 12, gpu.maxBinding - slice * 12)) {
    const halo = z0 > 0 ? 1 : 0;
    const from = slice * (z0 - halo),
      to = slice * z1;
    const slices = z1 - z0 + halo;
    const affinities = new Float32Array(3 * (to - from));
    for (let c = 0; c < 3; c++) affinities.set(input.affinities.subarray(c * n + from, c * n + to), c * (to - from));
    const voxels = slice * (z1 - z0);
    const buffers = [
      upload(gpu, input.labels.subarray(from, to)),
      upload(gpu, affinities),
      storage(gpu, 12 * voxels),
      uniforms(gpu, [sx, sy, slices, halo, z0, voxels]),
    ];
    const encoder = gpu.device.createCommandEncoder();
    dispatch(gpu, encoder, pipeline, buffers, voxels);
    const bytes = await readBack(gpu, encoder, buffers[2], 12 * voxels);
    const got = new Float32Array(bytes.buffer, bytes.byteOffset, 3 * voxels);
    for (let c = 0; c < 3; c++) out.set(got.subarray(c * voxels, (c + 1) * voxels), c * n + slice * z0);
    for (const b of buffers) b.destroy();
  }
  return out;
}
