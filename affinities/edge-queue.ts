// The agglomeration's queue of edges, best first. Agglomeration only ever adds edges no better than
// the one it last took (a combined edge's mean lies between its parts', and both parts were in the
// queue), so the queue is monotone and can be a bucket queue: edges are listed by the first
// BUCKET_BITS bits of their exact mean (a monotone function of it, so buckets never disagree with the
// exact order), and only the bucket being served is a heap. An edge that dies while listed costs a
// skip when its bucket is opened, not a pop from a heap of every edge: most edges die (merged into a
// combined edge) before their turn.
import { grown } from '../common/grown.js';

export interface QueuedEdges {
  /** Edge e's mean in float64 (within a few ulps of the exact mean). */
  mean(e: number): number;
  /** floor(exact mean of e x 2^BUCKET_BITS). */
  bucket(e: number): number;
  isAlive(e: number): boolean;
  /** Whether edge e of mean x comes before edge f of mean y, in the exact order. */
  precedes(x: number, e: number, y: number, f: number): boolean;
}

export const BUCKET_BITS = 16;

/**
 * floor(exact mean x 2^BUCKET_BITS) of a sum whole + fraction / 2^32 over count voxel edges, in
 * integers: floor(floor(sum x 2^BUCKET_BITS) / count) (whole x 2^BUCKET_BITS and the products below
 * stay under 2^53 for any count under 2^37).
 */
export function meanBucket(whole: number, fraction: number, count: number): number {
  const scaled = whole * 2 ** BUCKET_BITS + Math.floor(fraction / 2 ** (32 - BUCKET_BITS));
  let k = Math.floor(scaled / count);
  // The division is rounded: put k right.
  if (k * count > scaled) k--;
  else if ((k + 1) * count <= scaled) k++;
  return k;
}

export class EdgeQueue {
  /** Each bucket's listed edges: head per bucket, then a link per edge (-1 ends a list). */
  private readonly head = new Int32Array((1 << BUCKET_BITS) + 1).fill(-1);
  private link: Int32Array;
  /** The bucket being served (edges in it are in `heap`, not listed); above every bucket until the first pop. */
  private current = (1 << BUCKET_BITS) + 1;
  /** The served bucket's binary heap: entry i's mean at 2i, its edge at 2i + 1. */
  private heap = new Float64Array(1024);
  private size = 0;

  /** `lowest`: no edge below this bucket is ever added. */
  constructor(
    private readonly edges: QueuedEdges,
    capacity: number,
    private readonly lowest: number,
  ) {
    this.link = new Int32Array(capacity);
  }

  /** Room for edges up to `capacity` (edge ids are below it). */
  reserve(capacity: number): void {
    if (capacity > this.link.length) this.link = grown(this.link, capacity);
  }

  add(e: number): void {
    const b = this.edges.bucket(e);
    if (b >= this.current) this.push(this.edges.mean(e), e);
    else {
      this.link[e] = this.head[b];
      this.head[b] = e;
    }
  }

  /** The best live edge, taken out; -1 when none is left. */
  take(): number {
    for (;;) {
      while (this.size === 0) {
        if (this.current <= this.lowest) return -1;
        this.open(--this.current);
      }
      const h = this.heap;
      const e = h[1];
      const last = --this.size;
      if (last > 0) this.siftDown(0, h[2 * last], h[2 * last + 1]);
      if (this.edges.isAlive(e)) return e;
    }
  }

  /** Bucket b's live edges into the heap, heapified. */
  private open(b: number): void {
    let n = 0;
    for (let e = this.head[b]; e >= 0; e = this.link[e]) if (this.edges.isAlive(e)) n++;
    if (2 * n > this.heap.length) this.heap = new Float64Array(2 * n);
    const h = this.heap;
    let i = 0;
    for (let e = this.head[b]; e >= 0; e = this.link[e]) {
      if (!this.edges.isAlive(e)) continue;
      h[2 * i] = this.edges.mean(e);
      h[2 * i + 1] = e;
      i++;
    }
    this.head[b] = -1;
    this.size = n;
    for (let k = (n >> 1) - 1; k >= 0; k--) this.siftDown(k, h[2 * k], h[2 * k + 1]);
  }

  private push(m: number, e: number): void {
    if (2 * this.size === this.heap.length) this.heap = grown(this.heap, 2 * this.heap.length);
    const h = this.heap;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.edges.precedes(m, e, h[2 * p], h[2 * p + 1])) break;
      h[2 * i] = h[2 * p];
      h[2 * i + 1] = h[2 * p + 1];
      i = p;
    }
    h[2 * i] = m;
    h[2 * i + 1] = e;
  }

  /** Puts entry (m, e) at hole i or below it, moving up the children that come before it. */
  private siftDown(i: number, m: number, e: number): void {
    const h = this.heap,
      size = this.size,
      edges = this.edges;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= size) break;
      if (c + 1 < size && edges.precedes(h[2 * c + 2], h[2 * c + 3], h[2 * c], h[2 * c + 1])) c++;
      if (!edges.precedes(h[2 * c], h[2 * c + 1], m, e)) break;
      h[2 * i] = h[2 * c];
      h[2 * i + 1] = h[2 * c + 1];
      i = c;
    }
    h[2 * i] = m;
    h[2 * i + 1] = e;
  }
}
