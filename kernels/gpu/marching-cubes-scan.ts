// WebGPU marching-cubes scan (WGSL on Dawn); same contract and results as ../marching-cubes-scan.ts.
// Three passes per z slab of cubes: (1) each cube's case from the mask (uploaded as bytes), four
// cases to a word, and its triangle count; (2) an exclusive scan of the counts within each block of
// 256 cubes, and each block's total; the block totals are scanned here in uint32 (a few thousand
// numbers) and go back up as bases; (3) bases added. All integer: exact at any size.
import { Vec3 } from '../../common/box.js';
import { CASE_TRIANGLE_COUNTS, CORNERS } from '../marching-cubes-table.js';
import { cubesOf, MarchingCubesScan } from '../marching-cubes-scan.js';
import { dispatch, GpuDevice, INDEX_WGSL, readBack, storage, uniforms, upload, WORKGROUP, zSlabs } from './device.js';

const BLOCK = 256;

const PARAMS = /* wgsl */ `
struct Params { sx: u32, sy: u32, cx: u32, cy: u32, cubes: u32, base: u32 }
${INDEX_WGSL}`;

const CASES = /* wgsl */ `${PARAMS}
@group(0) @binding(0) var<storage, read> mask: array<u32>;
@group(0) @binding(1) var<storage, read_write> cases: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;
const TRIANGLES = array<u32, 256>(${Array.from(CASE_TRIANGLE_COUNTS).join('u, ')}u);
fn inside(i: u32) -> u32 { return select(0u, 1u, ((mask[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu) != 0u); }
fn caseOf(cube: u32) -> u32 {
  let x = cube % p.cx;
  let y = (cube / p.cx) % p.cy;
  let z = cube / (p.cx * p.cy);
  let v = x + p.sx * (y + p.sy * z);
  var c = 0u;
${CORNERS.map(([dx, dy, dz], bit) => `  c |= inside(v + ${dx}u + p.sx * (${dy}u + p.sy * ${dz}u)) << ${bit}u;`).join('\n')}
  return c;
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let w = linearIndex(gid, groups);
  if (4u * w >= p.cubes) { return; }
  var word = 0u;
  for (var k = 0u; k < 4u; k += 1u) {
    let cube = 4u * w + k;
    if (cube < p.cubes) {
      let c = caseOf(cube);
      word |= c << (8u * k);
      counts[cube] = TRIANGLES[c];
    }
  }
  cases[w] = word;
}`;

const SCAN = /* wgsl */ `${PARAMS}
@group(0) @binding(0) var<storage, read_write> counts: array<u32>;
@group(0) @binding(1) var<storage, read_write> totals: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
var<workgroup> partial: array<u32, ${BLOCK}>;
@compute @workgroup_size(${BLOCK})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let block = wid.x + wid.y * groups.x;
  let i = block * ${BLOCK}u + lid.x;
  var own = 0u;
  if (i < p.cubes) { own = counts[i]; }
  partial[lid.x] = own;
  workgroupBarrier();
  for (var stride = 1u; stride < ${BLOCK}u; stride *= 2u) {
    var add = 0u;
    if (lid.x >= stride) { add = partial[lid.x - stride]; }
    workgroupBarrier();
    partial[lid.x] += add;
    workgroupBarrier();
  }
  if (i < p.cubes) { counts[i] = partial[lid.x] - own; }
  if (lid.x == ${BLOCK - 1}u) { totals[block] = partial[lid.x]; }
}`;

const ADD = /* wgsl */ `${PARAMS}
@group(0) @binding(0) var<storage, read_write> counts: array<u32>;
@group(0) @binding(1) var<storage, read> bases: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = linearIndex(gid, groups);
  if (i < p.cubes) { counts[i] += bases[i / ${BLOCK}u] + p.base; }
}`;

export async function gpuMarchingCubesScan(gpu: GpuDevice, mask: Uint8Array, shape: Vec3): Promise<MarchingCubesScan> {
  const cubes = cubesOf(mask, shape);
  const [sx, sy] = shape;
  const [cx, cy, cz] = cubes;
  const cases = new Uint8Array(cx * cy * cz);
  const offsets = new Uint32Array(cases.length + 1);
  if (cases.length === 0) return { cubes, cases, offsets };
  const casesK = gpu.pipeline('mc-cases', CASES),
    scanK = gpu.pipeline('mc-scan', SCAN),
    addK = gpu.pipeline('mc-add', ADD);
  let total = 0;
  // A slab of cube slices reads one more mask slice; its offsets (4 bytes a cube) bound its size.
  for (const [z0, z1] of zSlabs(cz, 4 * cx * cy, gpu.maxBinding)) {
    const n = cx * cy * (z1 - z0);
    const blocks = Math.ceil(n / BLOCK);
    const maskBuffer = upload(gpu, mask.subarray(sx * sy * z0, sx * sy * (z1 + 1)));
    const casesBuffer = storage(gpu, n),
      counts = storage(gpu, 4 * n),
      totals = storage(gpu, 4 * blocks);
    const first = uniforms(gpu, [sx, sy, cx, cy, n, 0]);
    let encoder = gpu.device.createCommandEncoder();
    dispatch(gpu, encoder, casesK, [maskBuffer, casesBuffer, counts, first], Math.ceil(n / 4));
    dispatch(gpu, encoder, scanK, [counts, totals, first], blocks * BLOCK, BLOCK);
    const blockTotals = new Uint32Array((await readBack(gpu, encoder, totals, 4 * blocks)).buffer);
    // Exclusive scan of the block totals, in uint32 like the CPU kernel's offsets.
    const bases = new Uint32Array(blocks);
    let sum = 0;
    for (let b = 0; b < blocks; b++) {
      bases[b] = sum;
      sum = (sum + blockTotals[b]) >>> 0;
    }
    const basesBuffer = upload(gpu, bases);
    const second = uniforms(gpu, [sx, sy, cx, cy, n, total]);
    encoder = gpu.device.createCommandEncoder();
    dispatch(gpu, encoder, addK, [counts, basesBuffer, second], n);
    const scanned = await readBack(gpu, encoder, counts, 4 * n);
    offsets.set(new Uint32Array(scanned.buffer, scanned.byteOffset, n), cx * cy * z0);
    encoder = gpu.device.createCommandEncoder();
    cases.set(await readBack(gpu, encoder, casesBuffer, n), cx * cy * z0);
    total = (total + sum) >>> 0;
    for (const b of [maskBuffer, casesBuffer, counts, totals, first, basesBuffer, second]) b.destroy();
  }
  offsets[cases.length] = total;
  return { cubes, cases, offsets };
}
