// The recent rate behind the ETA, from records written by hand, and records as recorders write them.
import { describe, expect, it } from 'vitest';
import { listPlan } from '../../tasks/plan/format.js';
import { ProgressStore, RECENT_WINDOW_MS, recentRate } from './store.js';

type Sample = [number, number];
const samples = (...s: Sample[]) => s;
const base = { stage: 0, tasks: 10_000, first: 0, bitmap: '', dead: [] as [number, string][] };

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
});
