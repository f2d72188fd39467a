import { describe, expect, it } from 'vitest';
import { chunkKey, parseChunkKey } from '../common/box.js';
import { addScale, allChunks, assertChunkAligned, chunkBox, chunksIntersecting, chunksWithin, createInfo, gridShape, parseInfo, scaleBounds } from './info.js';

const base = {
  type: 'image',
  data_type: 'uint8',
  num_channels: 1,
  scales: [{ key: '4_4_40', size: [100, 70, 33], resolution: [4, 4, 40], voxel_offset: [10, -6, 3], chunk_sizes: [[64, 64, 16]], encoding: 'raw' }],
};

describe('chunk grid', () => {
  const info = parseInfo(base);
  const scale = info.scales[0];

  it('clips the last chunk of each axis at the volume bound and starts the grid at voxel_offset', () => {
    expect(gridShape(scale)).toEqual([2, 2, 3]);
    expect(chunkKey(chunkBox(scale, [0, 0, 0]))).toBe('10-74_-6-58_3-19');
    expect(chunkKey(chunkBox(scale, [1, 1, 2]))).toBe('74-110_58-64_35-36');
    const keys = allChunks(scale).map(chunkKey);
    expect(keys).toHaveLength(12);
    expect(new Set(keys).size).toBe(12);
    // The chunks tile the bounds exactly: their voxel counts add up to the volume's.
    const total = allChunks(scale).reduce((n, c) => n + (c.stop[0] - c.start[0]) * (c.stop[1] - c.start[1]) * (c.stop[2] - c.start[2]), 0);
    expect(total).toBe(100 * 70 * 33);
  });

  it('finds the chunks touching and inside a region', () => {
    const region = { start: [70, 0, 3] as [number, number, number], stop: [80, 10, 20] as [number, number, number] };
    expect(chunksIntersecting(scale, region).map(chunkKey)).toEqual(['10-74_-6-58_3-19', '74-110_-6-58_3-19', '10-74_-6-58_19-35', '74-110_-6-58_19-35']);
    expect(chunksWithin(scale, scaleBounds(scale))).toHaveLength(12);
    expect(chunksWithin(scale, region)).toHaveLength(0);
  });

  it('accepts exactly the grid chunks as aligned', () => {
    expect(() => assertChunkAligned(scale, parseChunkKey('74-110_58-64_35-36'), 'chunk')).not.toThrow();
    expect(() => assertChunkAligned(scale, parseChunkKey('0-64_-6-58_3-19'), 'Downsample task: chunk_path')).toThrow(
      'Downsample task: chunk_path 0-64_-6-58_3-19 is not aligned to chunk size [64,64,16] of scale 4_4_40 (bounds [10,-6,3]-[110,64,36])',
    );
    expect(() => assertChunkAligned(scale, parseChunkKey('74-138_58-64_35-36'), 'chunk')).toThrow(/not aligned/); // past the bound
  });

  it('parses chunk keys with negative coordinates and names bad ones', () => {
    expect(parseChunkKey('-6-58_0-1_2-3')).toEqual({ start: [-6, 0, 2], stop: [58, 1, 3] });
    // One spelling per box: a suffix, leading zeros or -0 would name a second object.
    for (const bad of ['-6-58_0-1_2-3.npz', '0-64_0-64_0-64.dup', '00-64_0-64_0-64', '0-064_0-64_0-64', '-0-64_0-64_0-64', ' 0-64_0-64_0-64'])
      expect(() => parseChunkKey(bad)).toThrow(/is not (of the form|canonical)/);
    expect(() => parseChunkKey('0-64_0-64', 'chunk_path')).toThrow('chunk_path "0-64_0-64" is not of the form x0-x1_y0-y1_z0-z1');
    expect(() => parseChunkKey('5-5_0-1_0-1', 'chunk_path')).toThrow('chunk_path "5-5_0-1_0-1" is an empty box');
  });
});

describe('scales', () => {
  it('adds a downsampled scale whose bounds hold every voxel with a child inside', () => {
    const info = parseInfo(base);
    const s1 = addScale(info, [2, 2, 1]);
    // x: [10, 110) -> [5, 55); y: [-6, 64) -> [-3, 32); z unchanged.
    expect(s1).toMatchObject({ key: '8_8_40', voxel_offset: [5, -3, 3], size: [50, 35, 33], resolution: [8, 8, 40] });
    const s2 = addScale(info, [2, 2, 2]);
    // odd offsets round outward: z [3, 36) -> [1, 18); x [5, 55) -> [2, 28).
    expect(s2).toMatchObject({ key: '16_16_80', voxel_offset: [2, -2, 1], size: [26, 18, 17] });
  });

  it('creates as many mips as it takes to fit one chunk', () => {
    const info = createInfo({
      type: 'segmentation',
      dataType: 'uint64',
      size: [512, 300, 100],
      resolution: [4, 4, 40],
      chunkSize: [64, 64, 64],
      encoding: 'compressed_segmentation',
      factor: [2, 2, 1],
    });
    expect(info.scales.map((s) => s.size)).toEqual([
      [512, 300, 100],
      [256, 150, 100],
      [128, 75, 100],
      [64, 38, 100],
    ]);
    expect(info.scales[3].compressed_segmentation_block_size).toEqual([8, 8, 8]);
  });
});

describe('info validation names the field', () => {
  const bad = (patch: (o: any) => void) => {
    const o = structuredClone(base) as any;
    patch(o);
    return () => parseInfo(o);
  };
  it.each([
    [
      (o: any) => {
        o.type = 'mesh';
      },
      'info: type "mesh" must be "image" or "segmentation"',
    ],
    [
      (o: any) => {
        o.data_type = 'int8';
      },
      'info: data_type "int8" must be one of',
    ],
    [
      (o: any) => {
        o.scales[0].size = [1, 2];
      },
      'info: scales[0].size [1,2] must be an array of 3 numbers',
    ],
    [
      (o: any) => {
        o.scales[0].chunk_sizes = [[64, 0, 64]];
      },
      'info: scales[0].chunk_sizes[0] [64,0,64] must be positive',
    ],
    [
      (o: any) => {
        o.scales[0].encoding = 'compressed_segmentation';
        o.scales[0].compressed_segmentation_block_size = [8, 8, 8];
      },
      'needs data_type uint32 or uint64, not uint8',
    ],
    [
      (o: any) => {
        o.type = 'segmentation';
        o.num_channels = 2;
      },
      'info: num_channels 2 must be 1 for segmentation',
    ],
    [
      (o: any) => {
        o.scales.push({ ...o.scales[0], key: 'x', resolution: [2, 4, 40] });
      },
      'info: scales[1].resolution [2,4,40] must not decrease',
    ],
  ])('%#', (patch, message) => expect(bad(patch)).toThrow(message));

  it('rejects malformed JSON', () => expect(() => parseInfo('{"type": ')).toThrow(/info: not valid JSON/));
});
