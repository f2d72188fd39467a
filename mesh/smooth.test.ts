import { describe, expect, it } from 'vitest';
import { box } from '../common/box.js';
import { synthesize } from '../demo/synthetic.js';
import { cpuKernels } from '../kernels/backend.js';
import { wasmKernels } from '../wasm/kernels.js';
import { meshChunk, meshRegion } from './chunk-mesher.js';
import { smoothInWebAssembly } from './smooth.js';

describe('Taubin smoothing', () => {
  it('moves every vertex in WebAssembly exactly as the plain loop does: free, sliding on a shared plane, pinned on two', async () => {
    expect(wasmKernels()).not.toBeNull();
    const bounds = box([0, 0, 0], [48, 48, 48]);
    const cells = synthesize(bounds).labels;
    // A chunk with its high x and y faces shared: vertices slide on x = 32 or y = 32, and are pinned where both meet.
    const region = meshRegion(box([0, 0, 0], [32, 32, 48]), bounds);
    expect(region.sharedPlanes).toEqual([[32], [32], []]);
    const [sx, sy, sz] = region.readBox.stop.map((e, d) => e - region.readBox.start[d]);
    const labels = new BigUint64Array(sx * sy * sz);
    for (let z = 0; z < sz; z++)
      for (let y = 0; y < sy; y++)
        for (let x = 0; x < sx; x++) {
          const [gx, gy, gz] = [x, y, z].map((v, d) => v + region.readBox.start[d]);
          if (gx >= 0 && gy >= 0 && gz >= 0 && gx < 48 && gy < 48 && gz < 48) labels[x + sx * (y + sy * z)] = cells[gx + 48 * (gy + 48 * gz)];
        }
    const mesh = async (wasm: boolean) => {
      smoothInWebAssembly(wasm);
      try {
        return await meshChunk({ labels, region, resolution: [4, 4, 40], simplification: 0, kernels: cpuKernels });
      } finally {
        smoothInWebAssembly(true);
      }
    };
    const [js, wasm] = [await mesh(false), await mesh(true)];
    expect(wasm.length).toBe(js.length);
    expect(js.length).toBeGreaterThan(10);
    let onPlanes = 0;
    for (let i = 0; i < js.length; i++) {
      expect(wasm[i].label).toBe(js[i].label);
      expect(wasm[i].mesh.triangles).toEqual(js[i].mesh.triangles);
      // Bit for bit: the same float64 operations in the same order.
      expect(Buffer.from(wasm[i].mesh.positions.buffer).equals(Buffer.from(js[i].mesh.positions.buffer)), `label ${js[i].label}`).toBe(true);
      const p = js[i].mesh.positions;
      for (let v = 0; v < p.length; v += 3) if (p[v] === 32.5 * 4 || p[v + 1] === 32.5 * 4) onPlanes++; // voxel 32 in nm: (32 + 0.5) x 4
    }
    expect(onPlanes).toBeGreaterThan(50);
  });
});
