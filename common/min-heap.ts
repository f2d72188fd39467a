// A binary min-heap of (cost, id) pairs; ties go to the smaller id so the order is deterministic.
export class MinHeap {
  private costs = new Float64Array(1024);
  private ids = new Uint32Array(1024);
  size = 0;

  push(cost: number, id: number): void {
    if (this.size === this.costs.length) {
      const costs = new Float64Array(2 * this.size),
        ids = new Uint32Array(2 * this.size);
      costs.set(this.costs);
      ids.set(this.ids);
      this.costs = costs;
      this.ids = ids;
    }
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(cost, id, this.costs[parent], this.ids[parent])) break;
      this.costs[i] = this.costs[parent];
      this.ids[i] = this.ids[parent];
      i = parent;
    }
    this.costs[i] = cost;
    this.ids[i] = id;
  }

  peekCost(): number {
    return this.costs[0];
  }

  /** Removes the smallest entry and returns its id. */
  pop(): number {
    const top = this.ids[0];
    const cost = this.costs[--this.size],
      id = this.ids[this.size];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= this.size) break;
      if (child + 1 < this.size && this.less(this.costs[child + 1], this.ids[child + 1], this.costs[child], this.ids[child])) child++;
      if (!this.less(this.costs[child], this.ids[child], cost, id)) break;
      this.costs[i] = this.costs[child];
      this.ids[i] = this.ids[child];
      i = child;
    }
    this.costs[i] = cost;
    this.ids[i] = id;
    return top;
  }

  private less(c1: number, id1: number, c2: number, id2: number): boolean {
    return c1 < c2 || (c1 === c2 && id1 < id2);
  }
}
