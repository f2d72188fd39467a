// The recent rate behind the ETA, from records written by hand, and records as recorders write them.
import { describe, expect, it } from 'vitest';
import { listPlan } from '../../tasks/plan/format.js';
import { gzipSync } from 'node:zlib';
import { CorruptData } from '../../common/errors.js';
import { seededRandom } from '../../test/reference.js';
import { Bitmap, decodeRecord, decodeRuns, encodeRuns, ProgressStore, RECENT_WINDOW_MS, recentRate } from './store.js';

type Sample = [number, number];
const samples = (...s: Sample[]) => s;
const base = { stage: 0, tasks: 10_000, first: 0, runs: '', dead: [] as [number, string][] };

describe('progress records', () => {
  it('rate the last five minutes of the workers still flushing, not the stage since its start', () => {
    const now = 10_000_000;
    const s = 1000;
    const records = [
      // 400 tasks in the 400 s since its sample just before the window: 1 a second.
      { ...base, recorder: 'a', updated: now, done: 500, recent: samples([now - 900 * s, 0], [now - 400 * s, 100], [now - 200 * s, 300]) },
      // 60 tasks in the 120 s since its first sample (it started within the window): 0.5 a second.
      { ...base, recorder: 'b', updated: now - 10 * s, done: 80, recent: samples([now - 130 * s, 20]) },
      // Stopped 10 minutes ago: adds nothing, however fast it was.
      { ...base, recorder: 'c', updated: now - 2 * RECENT_WINDOW_MS, done: 9000, recent: samples([now - 3 * RECENT_WINDOW_MS, 0]) },
      // An older record without samples: no recent rate of its own.
      { ...base, recorder: 'd', updated: now, done: 50 },
    ];
    expect(recentRate(records, now)).toBeCloseTo(1 + 0.5, 12);
    expect(recentRate(records.slice(2), now)).toBeUndefined();
  });

  it('are read back, many at once, with the recent samples a recorder keeps', async () => {
    const progress = new ProgressStore(`mem://progress-${Date.now()}`);
    await progress.savePlan(
      listPlan('mem://x', [
        {
          name: 'one',
          tasks: Array.from({ length: 100 }, (_, i) => ({
            kind: 'downsample' as const,
            layer_path: 'mem://x',
            chunk_path: `8_8_8/0-64_0-64_${64 * i}-${64 * i + 64}`,
          })),
        },
      ]),
    );
    const recorders = Array.from({ length: 40 }, (_, i) => progress.recorder(0, 100, `worker-${i}`));
    recorders.forEach((r, i) => r.finished(i));
    await Promise.all(recorders.map((r) => r.flush()));
    const records = await progress.records(0);
    expect(records.map((r) => r.recorder).sort()).toEqual(recorders.map((r) => r.name).sort());
    for (const r of records) expect(r.recent).toEqual([[r.updated, 1]]);
    expect(await progress.stageStatus(0)).toMatchObject({ tasks: 100, done: 40, dead: 0 });
  });

  it('keep finished tasks as runs: exact for any set, a few bytes for contiguous tasks, refused past the stage', () => {
    const random = seededRandom(11);
    for (const tasks of [1, 7, 8, 9, 64, 1000, 4099]) {
      for (const density of [0, 0.01, 0.5, 0.99, 1]) {
        const want = new Set<number>();
        const bits = Bitmap.of(tasks);
        for (let i = 0; i < tasks; i++)
          if (density === 1 || random() < density) {
            want.add(i);
            bits.add(i);
          }
        const back = decodeRuns(encodeRuns(bits), tasks, 'r');
        const got = Array.from({ length: tasks }, (_, i) => i).filter((i) => back.has(i));
        expect(got, `${tasks} tasks at ${density}`).toEqual([...want]);
      }
    }
    // 10^8 tasks: all done; a worker's ranges of 100 (one message each) one in a thousand; single
    // tasks one in a thousand (one worker of a thousand, one task a message). Placed at random, as
    // a queue hands them out (a regular pattern would flatter gzip).
    const tasks = 1e8;
    const sizes = (pick: (b: Bitmap) => void) => {
      const b = Bitmap.of(tasks);
      pick(b);
      return { runs: encodeRuns(b).length, bitmap: gzipSync(b.bits).length };
    };
    const all = sizes((b) => b.addRange(0, tasks));
    expect(all.runs).toBeLessThanOrEqual(6); // one run: 0, 10^8
    const ranges = sizes((b) => {
      for (let i = Math.floor(random() * 2e5); i + 100 <= tasks; i += 100 * Math.ceil(random() * 2000)) b.addRange(i, i + 100);
    });
    expect(ranges.runs).toBeLessThanOrEqual(1000 * 4); // 1000 runs, a gap and a length each
    expect(ranges.runs).toBeLessThan(ranges.bitmap / 2);
    const scattered = sizes((b) => {
      for (let i = Math.floor(random() * 2000); i < tasks; i += Math.ceil(random() * 2000)) b.add(i);
    });
    expect(scattered.runs).toBeLessThanOrEqual(1e5 * 3);
    expect(scattered.runs).toBeLessThan(1.1 * scattered.bitmap); // (about as small: gzip does well on sparse bits, but runs need no 12.5 MB bitmap compressed each flush)
    expect(() => decodeRuns(Uint8Array.from([5, 6]), 10, 'records/0/w')).toThrow(CorruptData);
    expect(() => decodeRuns(Uint8Array.from([5, 6]), 10, 'records/0/w')).toThrow("records/0/w: a run of 6 task(s) from 5 is not inside the stage's 10 tasks");
    expect(() => decodeRuns(Uint8Array.from([0, 0]), 10, 'r')).toThrow(/a run of 0 task/);
    expect(() => decodeRuns(Uint8Array.from([0x80]), 10, 'r')).toThrow(/the runs end inside a number/);
    // A record an older worker wrote (a gzipped bitmap) still reads.
    const old = { recorder: 'old', stage: 0, tasks: 20, first: 0, updated: 1, done: 3, bitmap: gzipSync(Buffer.from([7, 0, 0])).toString('base64'), dead: [] };
    const { done } = decodeRecord(new TextEncoder().encode(JSON.stringify(old)), 'records/0/old', 20);
    expect([0, 1, 2, 3].map((i) => done.has(i))).toEqual([true, true, true, false]);
  });
});
