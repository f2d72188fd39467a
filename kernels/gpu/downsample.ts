// WebGPU downsampling kernels (WGSL on Dawn); same contract and results as ../downsample.ts.
// Data go up in their own width (uint8 four to a 32-bit word, uint16 two, labels as 32-bit word
// pairs), so nothing is inflated to floats and no label is renumbered. Integer averages are exact
// (a sum of at most 8 uint16 fits in 32 bits; half-up by integer division). float32 averages sum in
// float32 (WGSL has no float64; the CPU sums in float64): they agree within 2e-6 of the largest
// child's magnitude. Modes compare labels as (high, low) word pairs: bit for bit the CPU's.
// An output stays on the device after its readback: when the next call downsamples that very array
// (Ingest's next mip), it is not uploaded again.
import { Vec3 } from '../../common/box.js';
import { allocate, dataTypeOf, TypedArray } from '../../common/dtype.js';
import { assertLabels, averageDownsample, checkDownsample, DownsampleInput, downsampledShape } from '../downsample.js';
import { dispatch, GpuDevice, INDEX_WGSL, readBack, storage, uniforms, upload, WORKGROUP, zSlabs } from './device.js';

const PARAMS = /* wgsl */ `
struct Params { sx: i32, sy: i32, sz: i32, ox: i32, oy: i32, oz: i32, fx: i32, fy: i32, fz: i32, bx: i32, by: i32, bz: i32, outputs: u32, items: u32 }
@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;
${INDEX_WGSL}
// Output o's channel base in src and its first child's coordinates.
fn origin(o: u32) -> vec4i {
  let per = u32(p.ox * p.oy * p.oz);
  let c = o / per;
  let r = o % per;
  let x = i32(r % u32(p.ox));
  let y = i32((r / u32(p.ox)) % u32(p.oy));
  let z = i32(r / u32(p.ox * p.oy));
  return vec4i(x * p.fx + p.bx, y * p.fy + p.by, z * p.fz + p.bz, i32(c) * p.sx * p.sy * p.sz);
}
fn inside(x: i32, y: i32, z: i32) -> bool {
  return x >= 0 && x < p.sx && y >= 0 && y < p.sy && z >= 0 && z < p.sz;
}`;

/** WGSL running `body` for each child (x, y, z) of output `a` inside the input, `i` its index. */
function eachChild(body: string): string {
  return /* wgsl */ `for (var dz = 0; dz < p.fz; dz += 1) {
    for (var dy = 0; dy < p.fy; dy += 1) {
      for (var dx = 0; dx < p.fx; dx += 1) {
        let x = a.x + dx;
        let y = a.y + dy;
        let z = a.z + dz;
        if (inside(x, y, z)) {
          let i = u32(a.w + x + p.sx * (y + p.sy * z));
          ${body}
        }
      }
    }
  }`;
}

type ImageType = 'uint8' | 'uint16' | 'float32';
/** Outputs per 32-bit word written by one work item. */
const PER_WORD: Record<ImageType, number> = { uint8: 4, uint16: 2, float32: 1 };

function averageShader(dtype: ImageType): string {
  const value =
    dtype === 'uint8' ? '(src[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu' : dtype === 'uint16' ? '(src[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu' : 'src[i]';
  const float = dtype === 'float32';
  const bits = 32 / PER_WORD[dtype];
  return /* wgsl */ `${PARAMS}
fn value(i: u32) -> u32 { return ${value}; }
fn average(o: u32) -> u32 {
  let a = origin(o);
  var sum = ${float ? '0.0' : '0u'};
  var n = 0u;
  ${eachChild(`sum += ${float ? 'bitcast<f32>(value(i))' : 'value(i)'}; n += 1u;`)}
  if (n == 0u) { return 0u; }
  return ${float ? 'bitcast<u32>(sum / f32(n))' : '(2u * sum + n) / (2u * n)'};
}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let w = linearIndex(gid, groups);
  if (w >= p.items) { return; }
  var word = 0u;
  for (var k = 0u; k < ${PER_WORD[dtype]}u; k += 1u) {
    let o = w * ${PER_WORD[dtype]}u + k;
    if (o < p.outputs) { word |= average(o) << (k * ${bits}u); }
  }
  dst[w] = word;
}`;
}

function modeShader(words: 1 | 2): string {
  const label = words === 2 ? 'vec2u(src[2u * i], src[2u * i + 1u])' : 'vec2u(src[i], 0u)';
  const write = words === 2 ? 'dst[2u * o] = best.x;\n  dst[2u * o + 1u] = best.y;' : 'dst[o] = best.x;';
  return /* wgsl */ `${PARAMS}
fn label(i: u32) -> vec2u { return ${label}; }
fn less(a: vec2u, b: vec2u) -> bool { return a.y < b.y || (a.y == b.y && a.x < b.x); }
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let o = linearIndex(gid, groups);
  if (o >= p.items) { return; }
  let a = origin(o);
  var children: array<vec2u, 8>;
  var m = 0u;
  ${eachChild('children[m] = label(i); m += 1u;')}
  var best = children[0];
  var bestCount = 0u;
  for (var i = 0u; i < m; i += 1u) {
    var count = 0u;
    for (var j = 0u; j < m; j += 1u) {
      if (all(children[i] == children[j])) { count += 1u; }
    }
    if (count > bestCount || (count == bestCount && less(children[i], best))) {
      best = children[i];
      bestCount = count;
    }
  }
  ${write}
}`;
}

/** The last output, kept on the device for a call that downsamples it in turn. */
let resident: { device: GPUDevice; array: TypedArray; buffer: GPUBuffer } | undefined;

function release(): void {
  resident?.buffer.destroy(); // harmless on a device already destroyed
  resident = undefined;
}

/** A kernel's shape: each work item writes `perItem` values (one 32-bit word of them, or one label). */
interface Plan {
  pipeline: GPUComputePipeline;
  bytesPerValue: number;
  perItem: number;
}

/**
 * Runs a downsampling pipeline: in one dispatch over all channels when input and output fit one
 * binding (the output then stays resident), else per channel in z slabs.
 */
async function run(gpu: GpuDevice, input: DownsampleInput, phase: Vec3, plan: Plan, result: TypedArray): Promise<void> {
  const { shape, channels, factor, data } = input;
  const [sx, sy, sz] = shape;
  const out = downsampledShape(shape, factor, phase);
  const outputs = out[0] * out[1] * out[2] * channels;
  const targetBytes = (values: number) => Math.max(4 * Math.ceil(values / plan.perItem), values * plan.bytesPerValue);
  const params = (osz: number, bz: number, isz: number, values: number) => [
    sx,
    sy,
    isz,
    out[0],
    out[1],
    osz,
    factor[0],
    factor[1],
    factor[2],
    -phase[0],
    -phase[1],
    bz,
    values,
    Math.ceil(values / plan.perItem),
  ];
  if (data.byteLength <= gpu.maxBinding && outputs * plan.bytesPerValue <= gpu.maxBinding) {
    const source = resident?.array === data && resident.device === gpu.device ? resident.buffer : upload(gpu, data);
    const target = storage(gpu, targetBytes(outputs));
    const uniform = uniforms(gpu, params(out[2], -phase[2], sz, outputs));
    const encoder = gpu.device.createCommandEncoder();
    dispatch(gpu, encoder, plan.pipeline, [source, target, uniform], Math.ceil(outputs / plan.perItem));
    const bytes = await readBack(gpu, encoder, target, outputs * plan.bytesPerValue);
    new Uint8Array(result.buffer, result.byteOffset, result.byteLength).set(bytes);
    if (source !== resident?.buffer) source.destroy();
    uniform.destroy();
    release();
    resident = { device: gpu.device, array: result, buffer: target };
    return;
  }
  release();
  const n = sx * sy * sz,
    on = out[0] * out[1] * out[2];
  const sliceBytes = sx * sy * factor[2] * data.BYTES_PER_ELEMENT;
  for (let c = 0; c < channels; c++) {
    for (const [z0, z1] of zSlabs(out[2], sliceBytes, gpu.maxBinding / 2)) {
      const iz0 = Math.max(0, z0 * factor[2] - phase[2]),
        iz1 = Math.min(sz, z1 * factor[2] - phase[2]);
      const slab = data.subarray(c * n + sx * sy * iz0, c * n + sx * sy * iz1);
      const values = out[0] * out[1] * (z1 - z0);
      const source = upload(gpu, slab);
      const target = storage(gpu, targetBytes(values));
      const uniform = uniforms(gpu, params(z1 - z0, z0 * factor[2] - phase[2] - iz0, iz1 - iz0, values));
      const encoder = gpu.device.createCommandEncoder();
      dispatch(gpu, encoder, plan.pipeline, [source, target, uniform], Math.ceil(values / plan.perItem));
      const bytes = await readBack(gpu, encoder, target, values * plan.bytesPerValue);
      const at = (c * on + out[0] * out[1] * z0) * plan.bytesPerValue;
      new Uint8Array(result.buffer, result.byteOffset + at, bytes.length).set(bytes);
      source.destroy();
      target.destroy();
      uniform.destroy();
    }
  }
}

export async function gpuAverageDownsample(gpu: GpuDevice, input: DownsampleInput): Promise<TypedArray> {
  const dtype = dataTypeOf(input.data);
  // uint32 sums of 8 values could pass 32 bits: those (rare) images stay on the cpu kernel, same result.
  if (dtype !== 'uint8' && dtype !== 'uint16' && dtype !== 'float32') return averageDownsample(input);
  const phase = checkDownsample(input);
  const [ox, oy, oz] = downsampledShape(input.shape, input.factor, phase);
  const result = allocate(dtype, ox * oy * oz * input.channels);
  const bytesPerValue = input.data.BYTES_PER_ELEMENT;
  await run(gpu, input, phase, { pipeline: gpu.pipeline(`average-${dtype}`, averageShader(dtype)), bytesPerValue, perItem: PER_WORD[dtype] }, result);
  return result;
}

export async function gpuModeDownsample(gpu: GpuDevice, input: DownsampleInput): Promise<Uint32Array | BigUint64Array> {
  const phase = checkDownsample(input);
  const data = assertLabels(input.data);
  const words = data instanceof BigUint64Array ? 2 : 1;
  const [ox, oy, oz] = downsampledShape(input.shape, input.factor, phase);
  const result = allocate(dataTypeOf(data), ox * oy * oz * input.channels) as Uint32Array | BigUint64Array;
  await run(gpu, input, phase, { pipeline: gpu.pipeline(`mode-${words}`, modeShader(words)), bytesPerValue: 4 * words, perItem: 1 }, result);
  return result;
}
