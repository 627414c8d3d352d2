/**
 * The timer queue most code would otherwise use: a binary min-heap of timer objects ordered by
 * due time (ties by scheduling order), each object remembering its heap index so that cancel is
 * O(log n) instead of a scan. The baseline for the timing-wheel benchmark; not product code.
 */
export interface HeapTimer<T> {
  atMs: number;
  seq: number;
  value: T;
  /** Position in the heap array, -1 once fired or cancelled. */
  index: number;
}

export class BinaryHeapTimers<T> {
  private heap: HeapTimer<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  schedule(atMs: number, value: T): HeapTimer<T> {
    const timer: HeapTimer<T> = { atMs, seq: this.seq++, value, index: this.heap.length };
    this.heap.push(timer);
    this.up(timer.index);
    return timer;
  }

  cancel(timer: HeapTimer<T>): boolean {
    const i = timer.index;
    if (i < 0) return false;
    const last = this.heap.pop()!;
    timer.index = -1;
    if (last !== timer) {
      this.heap[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
    return true;
  }

  advanceTo(nowMs: number, visit: (value: T, atMs: number) => void): number {
    let expired = 0;
    while (this.heap.length > 0 && this.heap[0]!.atMs <= nowMs) {
      const top = this.heap[0]!;
      this.cancel(top);
      expired++;
      visit(top.value, top.atMs);
    }
    return expired;
  }

  private less(a: HeapTimer<T>, b: HeapTimer<T>): boolean {
    return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
  }

  private up(i: number): void {
    const heap = this.heap;
    const item = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!this.less(item, p)) break;
      heap[i] = p;
      p.index = i;
      i = parent;
    }
    heap[i] = item;
    item.index = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.less(heap[right]!, heap[left]!) ? right : left;
      const c = heap[child]!;
      if (!this.less(c, item)) break;
      heap[i] = c;
      c.index = i;
      i = child;
    }
    heap[i] = item;
    item.index = i;
  }
}
