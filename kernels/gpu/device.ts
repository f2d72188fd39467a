// This thread's WebGPU device, from Dawn (npm `webgpu`, its binary inside the registry package), and
// the few things every kernel needs from it: compiled pipelines, uploads in the data's own width,
// dispatches over any number of work items, readbacks. Dawn is context-aware: each worker thread
// opens its own device. Backends tried in order: Dawn's default (Vulkan, on NVIDIA and Mesa's
// drivers), then OpenGL ES through EGL without a display (Mesa's llvmpipe where there is no GPU).
import { constants } from 'node:os';
import { isMainThread } from 'node:worker_threads';

export interface AdapterSummary {
  /** e.g. "NVIDIA H100 80GB HBM3 (vulkan)" or "llvmpipe-llvm-15-0-6-256-bits- (OpenGL ES 3.2 Mesa 22.3.6)". */
  name: string;
  backend: 'vulkan' | 'opengles' | 'default';
  /** A CPU rasterizer or fallback adapter: slower than the cpu kernels. */
  software: boolean;
}

export interface GpuDevice {
  /**
   * Held as long as the device: Dawn tears its backend down when the instance object is garbage
   * collected, under a device still in use (a crash, not an error).
   */
  instance: GPU;
  device: GPUDevice;
  adapter: AdapterSummary;
  /** Largest storage buffer one binding may hold, in bytes. */
  maxBinding: number;
  pipeline(name: string, code: string): GPUComputePipeline;
  /** Runs one kernel call; a validation or out-of-memory error inside it rejects (WebGPU only logs them). */
  checked<T>(run: () => Promise<T>): Promise<T>;
  destroy(): void;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic/i;

let opened: Promise<GpuDevice> | undefined;

/** Opens this thread's device once; rejects with the reasons each backend gave. */
export function openGpu(): Promise<GpuDevice> {
  opened ??= openDevice();
  return opened;
}

/** Releases this thread's device (a worker that drains, a test that ends). */
export async function closeGpu(): Promise<void> {
  const was = opened;
  opened = undefined;
  if (was)
    await was.then(
      (d) => d.destroy(),
      () => undefined,
    );
}

// EGL (Dawn's OpenGL ES backend) picks its platform from the C environment, which only the main
// thread can set: on load here, and runtime/pool.ts loads this module in the main thread. Surfaceless
// needs no display.
if (isMainThread) process.env.EGL_PLATFORM ??= 'surfaceless';

/**
 * Pins libEGL (and so glvnd's libGLdispatch) in the process. Dawn loads it per instance and unloads
 * it with the last one; glvnd leaves thread-specific data whose destructor then points into unmapped
 * code, and the next thread to exit crashes (a pool closing its workers). RTLD_NODELETE keeps it.
 */
function pinEgl(): void {
  const RTLD_NODELETE = 0x1000; // glibc's; os.constants.dlopen does not list it
  if (process.platform === 'linux') loadLibrary('libEGL.so.1', constants.dlopen.RTLD_NOW | RTLD_NODELETE);
}

/** dlopen()s a shared library into the process; the reason when it does not load, else undefined. */
export function loadLibrary(name: string, flags = constants.dlopen.RTLD_NOW): string | undefined {
  try {
    process.dlopen({ exports: {} }, name, flags);
  } catch (e) {
    // A library that is not a Node addon loads, then "did not self-register": loaded all the same.
    const message = (e as Error).message;
    if (!/did not self-register/.test(message)) return message.split('\n')[0];
  }
  return undefined;
}

async function openDevice(): Promise<GpuDevice> {
  pinEgl();
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch (e) {
    throw new Error(`the webgpu package (Dawn) does not load: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  Object.assign(globalThis, webgpu.globals); // GPUBufferUsage, GPUMapMode, ...
  const reasons: string[] = [];
  const attempts: [AdapterSummary['backend'], string[], GPURequestAdapterOptions][] = [
    ['default', [], {}],
    ['opengles', ['backend=opengles'], { featureLevel: 'compatibility' } as GPURequestAdapterOptions],
  ];
  for (const [backend, flags, options] of attempts) {
    try {
      const instance = webgpu.create(flags);
      const adapter = await instance.requestAdapter(options);
      if (!adapter) {
        reasons.push(`${backend}: no adapter`);
        continue;
      }
      return await deviceOn(instance, adapter, backend);
    } catch (e) {
      reasons.push(`${backend}: ${(e as Error).message}`);
    }
  }
  throw new Error(`no WebGPU adapter (${reasons.join('; ')})`);
}

async function deviceOn(instance: GPU, adapter: GPUAdapter, backend: AdapterSummary['backend']): Promise<GpuDevice> {
  const info = adapter.info;
  const label = [info.vendor, info.device || info.architecture].filter(Boolean).join(' ') || 'unknown adapter';
  const name = `${label} (${info.description || backend})`;
  const software =
    (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true || SOFTWARE.test(`${info.device} ${info.description} ${info.architecture}`);
  const limits = adapter.limits;
  // The adapter's own limits: the defaults (128 invocations per workgroup in compatibility mode) are
  // below what the scan's 256-wide workgroups need, and far below real storage buffer sizes.
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
    },
  });
  let lost = false;
  void device.lost.then(() => {
    lost = true;
  });
  const pipelines = new Map<string, GPUComputePipeline>();
  return {
    instance,
    device,
    adapter: { name, backend: backend === 'default' && /vulkan/i.test(info.description) ? 'vulkan' : backend, software },
    maxBinding: Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize),
    pipeline(key, code) {
      if (lost) throw new Error('the GPU device was lost');
      let p = pipelines.get(key);
      if (!p)
        pipelines.set(
          key,
          (p = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } })),
        );
      return p;
    },
    async checked(run) {
      device.pushErrorScope('out-of-memory');
      device.pushErrorScope('validation');
      let result: Awaited<ReturnType<typeof run>> | undefined, thrown: unknown;
      try {
        result = await run();
      } catch (e) {
        thrown = e;
      }
      const [validation, memory] = [await device.popErrorScope(), await device.popErrorScope()];
      const error = validation ?? memory;
      if (error) throw new Error(`WebGPU ${validation ? 'validation' : 'out-of-memory'} error: ${error.message.split('\n')[0]}`, { cause: thrown });
      if (thrown) throw thrown;
      return result!;
    },
    destroy: () => device.destroy(),
  };
}

/** Work items per workgroup in every kernel; dispatches are 2-D past 65535 workgroups. */
export const WORKGROUP = 64;

/** The WGSL prologue giving `index(gid, n)`, the linear work item of a (possibly 2-D) dispatch. */
export const INDEX_WGSL = /* wgsl */ `
fn linearIndex(gid: vec3u, groups: vec3u) -> u32 {
  return gid.x + gid.y * groups.x * ${WORKGROUP}u;
}`;

/** A storage buffer's size for `bytes` (padded to 4); past one binding is a slab planning error. */
function bindable(gpu: GpuDevice, bytes: number): number {
  const size = Math.max(4, Math.ceil(bytes / 4) * 4);
  if (size > gpu.maxBinding) throw new Error(`a ${size}-byte buffer is larger than one binding (${gpu.maxBinding} bytes)`);
  return size;
}

/** A storage buffer holding `data`'s bytes (padded to 4), ready to bind. */
export function upload(gpu: GpuDevice, data: ArrayBufferView, extraUsage = 0): GPUBuffer {
  const size = bindable(gpu, data.byteLength);
  const buffer = gpu.device.createBuffer({
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | extraUsage,
    mappedAtCreation: true,
  });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  return buffer;
}

/** An uninitialised storage buffer of `bytes` (padded to 4). */
export function storage(gpu: GpuDevice, bytes: number): GPUBuffer {
  return gpu.device.createBuffer({ size: bindable(gpu, bytes), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
}

/** A uniform buffer of 32-bit words (u32, or i32 where negative). */
export function uniforms(gpu: GpuDevice, words: number[]): GPUBuffer {
  const padded = new Int32Array(Math.ceil(words.length / 4) * 4);
  padded.set(words.map((w) => w | 0));
  const buffer = gpu.device.createBuffer({ size: padded.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  gpu.device.queue.writeBuffer(buffer, 0, padded);
  return buffer;
}

/** Encodes one compute pass of `items` work items (`perGroup` per workgroup) with bindings 0, 1, ... */
export function dispatch(
  gpu: GpuDevice,
  encoder: GPUCommandEncoder,
  pipeline: GPUComputePipeline,
  buffers: GPUBuffer[],
  items: number,
  perGroup = WORKGROUP,
): void {
  if (items === 0) return;
  const groups = Math.ceil(items / perGroup);
  const gx = Math.min(groups, 65535),
    gy = Math.ceil(groups / gx);
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    gpu.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) }),
  );
  pass.dispatchWorkgroups(gx, gy);
  pass.end();
}

/** Submits `encoder` after copying `from`'s first `bytes` out, and returns those bytes. */
export async function readBack(gpu: GpuDevice, encoder: GPUCommandEncoder, from: GPUBuffer, bytes: number): Promise<Uint8Array> {
  const size = Math.max(4, Math.ceil(bytes / 4) * 4);
  const staging = gpu.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  encoder.copyBufferToBuffer(from, 0, staging, 0, size);
  gpu.device.queue.submit([encoder.finish()]);
  try {
    await staging.mapAsync(GPUMapMode.READ);
    return new Uint8Array(staging.getMappedRange().slice(0, bytes));
  } finally {
    staging.destroy();
  }
}

/** z ranges [z0, z1) of at most `maxBytes` each when one z slice takes `sliceBytes` (at least one slice). */
export function zSlabs(depth: number, sliceBytes: number, maxBytes: number): [number, number][] {
  const step = Math.max(1, Math.floor(maxBytes / Math.max(1, sliceBytes)));
  const slabs: [number, number][] = [];
  for (let z = 0; z < depth; z += step) slabs.push([z, Math.min(depth, z + step)]);
  return slabs;
}
