import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/reference.js';
import { BUCKET_BITS, EdgeQueue, meanBucket, QueuedEdges } from './edge-queue.js';

/** An edge's sum in units of 2^-32 and its count, as integers. */
interface Exact {
  units: bigint;
  count: bigint;
}

/** Sign of mean(x) - mean(y), exactly. */
const compare = (x: Exact, y: Exact) => {
  const l = x.units * y.count,
    r = y.units * x.count;
  return l > r ? 1 : l < r ? -1 : 0;
};

/** A mean on a bucket bound k / 2^16, or a unit of 2^-32 either side, or anywhere. */
function randomSum(random: () => number, count: number): Exact {
  const c = BigInt(count);
  const onBound = (c * BigInt(Math.floor(random() * (2 ** BUCKET_BITS + 1))) * 2n ** BigInt(32 - BUCKET_BITS)) as bigint;
  const choice = Math.floor(random() * 4);
  const units = choice === 3 ? BigInt(Math.floor(random() * count * 2 ** 20)) * 2n ** 12n : onBound + BigInt(choice - 1);
  const top = c * 2n ** 32n;
  return { units: units < 0n ? 0n : units > top ? top : units, count: c };
}

describe('edge queue', () => {
  it('buckets a mean by floor(mean x 2^16), exactly, for counts up to 2^36', () => {
    const random = seededRandom(5);
    for (let trial = 0; trial < 20000; trial++) {
      const count = 1 + Math.floor(random() * 2 ** (trial % 37));
      const { units } = randomSum(random, count);
      const whole = Number(units >> 32n),
        fraction = Number(units & 0xffffffffn);
      const expected = Number((units * 2n ** BigInt(BUCKET_BITS)) / (BigInt(count) * 2n ** 32n));
      expect(meanBucket(whole, fraction, count), `units ${units} count ${count}`).toBe(expected);
    }
  });

  it('gives the best live edge first, as a brute force does, while edges no better than the last taken come and others die', () => {
    const random = seededRandom(9);
    for (let trial = 0; trial < 40; trial++) {
      const edges: Exact[] = [];
      const alive: boolean[] = [];
      const view: QueuedEdges = {
        mean: (e) => Number(edges[e].units) / 2 ** 32 / Number(edges[e].count),
        bucket: (e) => meanBucket(Number(edges[e].units >> 32n), Number(edges[e].units & 0xffffffffn), Number(edges[e].count)),
        isAlive: (e) => alive[e],
        precedes: (_x, e, _y, f) => {
          const c = compare(edges[e], edges[f]);
          return c !== 0 ? c > 0 : e < f; // ties: the smaller id first
        },
      };
      const lowest = Math.floor(random() * 2 ** BUCKET_BITS);
      const queue = new EdgeQueue(view, 8, lowest);
      const waiting = new Set<number>();
      const add = (sum: Exact) => {
        const e = edges.length;
        edges.push(sum);
        alive.push(true);
        if (meanBucket(Number(sum.units >> 32n), Number(sum.units & 0xffffffffn), Number(sum.count)) < lowest) return;
        queue.reserve(edges.length);
        queue.add(e);
        waiting.add(e);
      };
      for (let i = 0; i < 300; i++) add(randomSum(random, 1 + Math.floor(random() * 1000)));
      for (;;) {
        let best = -1;
        for (const e of waiting) if (alive[e] && (best < 0 || view.precedes(0, e, 0, best))) best = e;
        const taken = queue.take();
        expect(taken, `trial ${trial}`).toBe(best);
        if (taken < 0) break;
        waiting.delete(taken);
        // Kill a few waiting edges; add a few no better than the one just taken (as merges do).
        for (const e of waiting) if (random() < 0.05) alive[e] = false;
        for (let k = Math.floor(random() * 4); k > 0; k--) {
          // Often just below the taken edge (or tied with it), so in the bucket being served.
          const near = { units: edges[taken].units - BigInt(Math.floor(random() * 3)), count: edges[taken].count };
          const sum = random() < 0.5 && near.units >= 0n ? near : randomSum(random, 1 + Math.floor(random() * 1000));
          if (compare(sum, edges[taken]) <= 0) add(sum);
        }
      }
    }
  });
});
