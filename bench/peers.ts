// Benchmark: digest's volume kernels and codecs against the C/C++ tools labs use, per core, side by
// side on the same inputs. Writes each input to --dir; with --peer it also runs a timing harness built
// from the peers' public sources (tinybrain, seung-lab compressedseg, libjpeg-turbo, libdeflate; how to
// build it is in bench/RESULTS.md: no peer code lives in this repository), alternating digest and peer
// for --rounds rounds, and prints the medians and ratios (digest / peer) as a markdown table.
//   node dist/bench/peers.js [--peer /tmp/peers/harness] [--rounds 5] [--size 512] [--dir /tmp/digest-peers] [--only text]
// Both sides run one thread. The harness prints the median seconds of REPS calls after a warm-up.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeCompressedSegmentation, encodeCompressedSegmentation } from '../codecs/compressed-segmentation.js';
import { decodeJpeg, encodeJpeg } from '../codecs/jpeg.js';
import { gzipOptions } from '../codecs/registry.js';
import { synthesize } from '../demo/synthetic.js';
import { averageDownsample, modeDownsample } from '../kernels/downsample.js';
import { box, Vec3 } from '../common/box.js';
import { Scale } from '../precomputed/info.js';
import { gunzip, gzip, GzipOptions } from '../storage/gzip.js';

const { values } = parseArgs({
  options: { peer: { type: 'string' }, rounds: { type: 'string' }, size: { type: 'string' }, dir: { type: 'string' }, only: { type: 'string' } },
});
const rounds = Number(values.rounds ?? 5);
const size = Number(values.size ?? 512);
const dir = values.dir ?? '/tmp/digest-peers';

interface Row {
  work: string;
  /** Harness mode, input file and shape. */
  mode: string;
  file: string;
  shape: Vec3;
  reps: number;
  /** Units of work per call: voxels (MVx/s) or bytes (MiB/s). */
  amount: number;
  unit: 'MVx/s' | 'MiB/s';
  run: () => unknown;
  note?: string;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function secondsPerCall(fn: () => unknown, reps: number): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    fn();
    times.push((performance.now() - start) / 1000);
  }
  return median(times);
}

function save(name: string, array: ArrayBufferView): string {
  const file = join(dir, name);
  writeFileSync(file, new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
  return file;
}

/** One label per voxel, with high bits set: the hardest input for mode and compressed_segmentation. */
function distinctLabels(n: number): BigUint64Array {
  const out = new BigUint64Array(n);
  const words = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    words[2 * i] = i + 1;
    words[2 * i + 1] = 0x8000_0000 | (i >>> 3);
  }
  return out;
}

/** Each voxel one of 2^20 labels at random: no runs, and a block's labels in no order. */
function scatteredLabels(n: number): BigUint64Array {
  const out = new BigUint64Array(n);
  const words = new Uint32Array(out.buffer);
  let s = 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    words[2 * i] = s >>> 12;
    words[2 * i + 1] = 0x4000_0000 | (s >>> 20);
  }
  return out;
}

function rows(): Row[] {
  mkdirSync(dir, { recursive: true });
  const big: Vec3 = [size, size, size];
  const n = size ** 3;
  const { image, labels } = synthesize(box([0, 0, 0], big));
  // (TypedArray.from with a map function goes through a list that cannot hold 2^27 values.)
  const u16 = new Uint16Array(n),
    f32 = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    u16[i] = image[i] * 200 + (i & 127);
    f32[i] = image[i] / 3;
  }
  const downsample = (
    work: string,
    mode: string,
    data: Uint8Array | Uint16Array | Float32Array | BigUint64Array,
    name: string,
    kind: 'average' | 'mode',
    note?: string,
  ): Row => ({
    work,
    mode,
    file: save(name, data),
    shape: big,
    reps: 3,
    amount: n,
    unit: 'MVx/s',
    note,
    run:
      kind === 'average'
        ? () => averageDownsample({ data: data as Uint8Array, shape: big, channels: 1, factor: [2, 2, 2] })
        : () => modeDownsample({ data: data as BigUint64Array, shape: big, channels: 1, factor: [2, 2, 2] }),
  });
  const out: Row[] = [
    downsample(`average 2x2x2, uint8 ${size}^3`, 'avg_u8', image, 'u8.raw', 'average'),
    downsample(`average 2x2x2, uint16 ${size}^3`, 'avg_u16', u16, 'u16.raw', 'average'),
    downsample(`average 2x2x2, float32 ${size}^3`, 'avg_f32', f32, 'f32.raw', 'average'),
    downsample(`mode 2x2x2, uint64 cells ${size}^3`, 'mode_u64', labels, 'cells.raw', 'mode'),
    downsample(`mode 2x2x2, uint64 one label per voxel ${size}^3`, 'mode_u64', distinctLabels(n), 'distinct.raw', 'mode'),
  ];

  const c: Vec3 = [128, 128, 128];
  const cells = synthesize(box([0, 0, 0], c)).labels;
  for (const [what, data, name] of [
    ['cells', cells, 'cseg-cells.raw'],
    ['one label per voxel', distinctLabels(128 ** 3), 'cseg-distinct.raw'],
    ['scattered labels', scatteredLabels(128 ** 3), 'cseg-scattered.raw'],
  ] as const) {
    const file = save(name, data);
    const encoded = encodeCompressedSegmentation(data, c, 1, [8, 8, 8]);
    out.push({
      work: `compressed_segmentation encode uint64 ${what} 128^3`,
      mode: 'cseg_encode_u64',
      file,
      shape: c,
      reps: 10,
      amount: 128 ** 3,
      unit: 'MVx/s',
      run: () => encodeCompressedSegmentation(data, c, 1, [8, 8, 8]),
    });
    out.push({
      work: `compressed_segmentation decode uint64 ${what} 128^3`,
      mode: 'cseg_decode_u64',
      file,
      shape: c,
      reps: 10,
      amount: 128 ** 3,
      unit: 'MVx/s',
      note: 'into a reused buffer, both sides',
      run: () => decodeCompressedSegmentation(encoded, c, 1, [8, 8, 8], 'uint64', true),
    });
  }

  const chunk: Vec3 = [64, 64, 64];
  const em = synthesize(box([0, 0, 0], chunk)).image;
  const emFile = save('em-chunk.raw', em);
  const jpeg = encodeJpeg(em, chunk, 1);
  out.push({
    work: 'JPEG encode, uint8 64^3 chunk, quality 85',
    mode: 'jpeg_encode',
    file: emFile,
    shape: chunk,
    reps: 50,
    amount: 64 ** 3,
    unit: 'MVx/s',
    run: () => encodeJpeg(em, chunk, 1),
  });
  out.push({
    work: 'JPEG decode, uint8 64^3 chunk',
    mode: 'jpeg_decode',
    file: emFile,
    shape: chunk,
    reps: 50,
    amount: 64 ** 3,
    unit: 'MVx/s',
    run: () => decodeJpeg(jpeg, chunk, 1),
  });

  const rawScale = { encoding: 'raw' } as Scale;
  const csegScale = { encoding: 'compressed_segmentation' } as Scale;
  const csegChunk = encodeCompressedSegmentation(synthesize(box([0, 0, 0], chunk)).labels, chunk, 1, [8, 8, 8]);
  for (const [what, bytes, options, name] of [
    ['raw uint8 EM chunk', em, gzipOptions({ encoding: rawScale.encoding, dataType: 'uint8', channels: 1 }), 'em-chunk.raw'],
    ['compressed_segmentation chunk', csegChunk, gzipOptions({ encoding: csegScale.encoding, dataType: 'uint64', channels: 1 }), 'cseg-chunk.bin'],
  ] as const) {
    const file = save(name, bytes);
    const opts = options as GzipOptions;
    const zipped = gzip(bytes, opts);
    const ratio = (zipped.length / bytes.length).toFixed(3);
    out.push({
      work: `gzip ${what}: digest's default (level ${opts.level}, ${opts.strategy}) vs libdeflate level 6`,
      mode: 'gzip6',
      file,
      shape: [bytes.length, 1, 1],
      reps: 50,
      amount: bytes.length,
      unit: 'MiB/s',
      note: `digest out/in ${ratio}`,
      run: () => gzip(bytes, opts),
    });
    out.push({
      work: `gzip ${what}: level 6 both`,
      mode: 'gzip6',
      file,
      shape: [bytes.length, 1, 1],
      reps: 50,
      amount: bytes.length,
      unit: 'MiB/s',
      note: `digest out/in ${(gzip(bytes, { level: 6, strategy: 'default' }).length / bytes.length).toFixed(3)}`,
      run: () => gzip(bytes, { level: 6, strategy: 'default' }),
    });
    out.push({
      work: `gunzip ${what}`,
      mode: 'gunzip',
      file,
      shape: [bytes.length, 1, 1],
      reps: 50,
      amount: bytes.length,
      unit: 'MiB/s',
      run: () => gunzip(zipped, 'bench'),
    });
  }
  return out;
}

function peerSeconds(row: Row): { seconds: number; extra?: string } {
  const args = [row.mode, row.file, ...row.shape.map(String), String(row.reps)];
  const [seconds, extra] = execFileSync(values.peer!, args, { encoding: 'utf8' }).trim().split(/\s+/);
  return { seconds: Number(seconds), extra };
}

/** The peer's compressed_segmentation bytes for the input, to check digest writes the same. */
function checkCompressedSegmentationBytes(row: Row): void {
  const peerOut = join(dir, 'peer-cseg.bin');
  execFileSync(values.peer!, [row.mode, row.file, ...row.shape.map(String), '1', peerOut]);
  const data = new BigUint64Array(readFileSync(row.file).buffer.slice(0));
  const mine = encodeCompressedSegmentation(data, row.shape, 1, [8, 8, 8]);
  if (!Buffer.from(mine).equals(readFileSync(peerOut))) throw new Error(`${row.work}: digest's bytes differ from compressedseg's`);
}

function main(): void {
  const table = rows();
  const lines = [
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; one thread each side; medians of ${rounds} alternating rounds`,
    '',
    '| work | digest | peer | digest / peer | notes |',
    '| --- | --- | --- | --- | --- |',
  ];
  for (const row of table.filter((r) => !values.only || r.work.includes(values.only))) {
    if (values.peer && row.mode === 'cseg_encode_u64') checkCompressedSegmentationBytes(row);
    const mine: number[] = [],
      theirs: number[] = [];
    let extra: string | undefined;
    for (let r = 0; r < rounds; r++) {
      (globalThis as { gc?: () => void }).gc?.();
      mine.push(secondsPerCall(row.run, row.reps));
      if (values.peer) {
        const p = peerSeconds(row);
        theirs.push(p.seconds);
        extra = p.extra;
      }
    }
    const rate = (s: number) => (row.unit === 'MVx/s' ? row.amount / 1e6 / s : row.amount / 2 ** 20 / s);
    const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
    const d = rate(median(mine));
    const p = theirs.length ? rate(median(theirs)) : undefined;
    const notes = [row.note, extra && row.mode === 'gzip6' ? `peer out/in ${(Number(extra) / row.amount).toFixed(3)}` : undefined].filter(Boolean).join('; ');
    lines.push(
      `| ${row.work} | ${fmt(d)} ${row.unit} | ${p === undefined ? '-' : `${fmt(p)} ${row.unit}`} | ${p === undefined ? '-' : (d / p).toFixed(2)} | ${notes} |`,
    );
    console.error(lines.at(-1));
  }
  console.log(lines.join('\n'));
}

main();
