/**
 * The keys a SlotHeap orders its slots by: a number per slot, and a rank per slot that breaks
 * ties (distinct for distinct slots). The owner may replace the arrays when it grows them.
 */
export interface SlotKeys {
  value: Float64Array;
  rank: Float64Array;
}

/**
 * A binary heap of small integer slots, ordered by `keys.value` (least first, or greatest
 * first when `descending`), ties by `keys.rank`, with each slot's position kept in a typed
 * array. The device index numbers devices with slots and keeps their keys in typed arrays, so
 * moving a device in a heap reads no map, follows no object pointers, calls no comparator
 * closure and allocates nothing: that is what keeps index maintenance cheap per fact at
 * thousands of devices.
 *
 * The order is total (ranks are distinct), so the layout depends on the order of updates but
 * every answer the heap gives does not.
 */
export class SlotHeap {
  private heap: Int32Array = new Int32Array(16);
  /** Position + 1 of each slot in `heap`; 0 when the slot is not in the heap. */
  private at: Int32Array;
  private count = 0;
  /** Positions still to visit in the current ascending walk, as a min-heap. */
  private frontier: Int32Array = new Int32Array(16);
  private frontierSize = 0;

  constructor(
    private readonly keys: SlotKeys,
    private readonly descending = false,
  ) {
    // Sized for the slots the keys already cover, so a heap made late does not grow step by step.
    this.at = new Int32Array(Math.max(16, keys.value.length));
  }

  /** Whether slot `a` comes before slot `b`. */
  less(a: number, b: number): boolean {
    const value = this.keys.value;
    const va = value[a]!;
    const vb = value[b]!;
    if (va !== vb) return this.descending ? va > vb : va < vb;
    const rank = this.keys.rank;
    return rank[a]! < rank[b]!;
  }

  get size(): number {
    return this.count;
  }

  has(slot: number): boolean {
    return slot < this.at.length && this.at[slot]! > 0;
  }

  /** Inserts the slot, or restores the heap order after its key changed. */
  upsert(slot: number): void {
    if (slot >= this.at.length) this.at = grown(this.at, slot + 1);
    const at = this.at[slot]!;
    if (at === 0) {
      if (this.count === this.heap.length) {
        this.heap = grown(this.heap, this.count + 1);
        this.frontier = grown(this.frontier, this.count + 2);
      }
      this.siftUp(slot, this.count++);
      return;
    }
    const i = at - 1;
    if (i > 0 && this.less(slot, this.heap[(i - 1) >> 1]!)) this.siftUp(slot, i);
    else this.siftDown(slot, i);
  }

  remove(slot: number): void {
    if (!this.has(slot)) return;
    const i = this.at[slot]! - 1;
    this.at[slot] = 0;
    const last = this.heap[--this.count]!;
    if (i === this.count) return;
    if (i > 0 && this.less(last, this.heap[(i - 1) >> 1]!)) this.siftUp(last, i);
    else this.siftDown(last, i);
  }

  /**
   * Starts an ascending walk: `next()` then gives the slots from least to greatest, visiting
   * k slots in O(k log k) however large the heap. One walk at a time per heap; a walk is valid
   * until the heap changes.
   */
  walk(): void {
    this.frontierSize = this.count > 0 ? 1 : 0;
    this.frontier[0] = 0;
  }

  /** The next slot of the current walk, or -1 when every slot has been visited. */
  next(): number {
    const f = this.frontier;
    const heap = this.heap;
    if (this.frontierSize === 0) return -1;
    const top = f[0]!;
    const last = f[--this.frontierSize]!;
    if (this.frontierSize > 0) this.frontierDown(last);
    const left = 2 * top + 1;
    if (left < this.count) this.frontierUp(left);
    if (left + 1 < this.count) this.frontierUp(left + 1);
    return heap[top]!;
  }

  private siftUp(slot: number, from: number): void {
    const heap = this.heap;
    const at = this.at;
    let i = from;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (!this.less(slot, parent)) break;
      heap[i] = parent;
      at[parent] = i + 1;
      i = p;
    }
    heap[i] = slot;
    at[slot] = i + 1;
  }

  private siftDown(slot: number, from: number): void {
    const heap = this.heap;
    const at = this.at;
    const n = this.count;
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      let child = heap[l]!;
      if (l + 1 < n) {
        const right = heap[l + 1]!;
        if (this.less(right, child)) {
          c = l + 1;
          child = right;
        }
      }
      if (!this.less(child, slot)) break;
      heap[i] = child;
      at[child] = i + 1;
      i = c;
    }
    heap[i] = slot;
    at[slot] = i + 1;
  }

  private frontierUp(position: number): void {
    const f = this.frontier;
    const heap = this.heap;
    let i = this.frontierSize++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(heap[position]!, heap[f[p]!]!)) break;
      f[i] = f[p]!;
      i = p;
    }
    f[i] = position;
  }

  private frontierDown(position: number): void {
    const f = this.frontier;
    const heap = this.heap;
    const n = this.frontierSize;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      if (l + 1 < n && this.less(heap[f[l + 1]!]!, heap[f[l]!]!)) c = l + 1;
      if (!this.less(heap[f[c]!]!, heap[position]!)) break;
      f[i] = f[c]!;
      i = c;
    }
    f[i] = position;
  }
}

/** A copy of `array` with room for at least `length` elements (doubling, zero-filled). */
function grown(array: Int32Array, length: number): Int32Array {
  const bigger = new Int32Array(Math.max(length, array.length * 2));
  bigger.set(array);
  return bigger;
}
