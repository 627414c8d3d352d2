/**
 * The requests waiting in one batcher queue, indexed so that every operation a request goes
 * through costs O(log n) at most: arrival, the most urgent k (O(k log k)), removal by id (batched,
 * rejected), a timeout, the tightest deadline and the oldest arrival (O(1)). A queue may hold a
 * million requests under a backlog, so nothing here copies or scans the queue.
 *
 * Urgency is a static order: (SLO class + aging periods since the clock's origin at arrival,
 * timed out last, deadline, arrival). Aging counts whole periods of the clock (multiples of
 * `agingMs`) crossed while a request waits, so the order of two waiting requests never changes
 * with time and one binary heap keeps it.
 *
 * The structure is mutable: the batcher's evolve changes it in place. Each change can record its
 * inverse in an undo log, which is how the batcher's `decide` stays pure (it rolls back what it
 * folded while deciding).
 */
import { SLO_CLASSES, type SloClass } from '../../domain/events/request.js';
import type { InferenceRequest } from '../../domain/events/request.js';
import type { QueuedRequest } from './queued-request.js';

/** Inverse operations, applied last first to restore the queue. */
export type UndoLog = Array<() => void>;

const CLASS_RANK: Readonly<Record<SloClass, number>> = Object.fromEntries(SLO_CLASSES.map((c, i) => [c, i])) as Record<SloClass, number>;

/** 0 for 'realtime', 1 for 'interactive', 2 for 'batch'; unknown classes rank last. */
export function classRank(sloClass: string): number {
  return CLASS_RANK[sloClass as SloClass] ?? SLO_CLASSES.length;
}

/** Aging periods of the clock from its origin to `atMs` (0 when aging is off). */
export function agingPeriods(atMs: number, agingMs: number): number {
  return agingMs > 0 && Number.isFinite(agingMs) ? Math.floor(atMs / agingMs) : 0;
}

/**
 * The rank a queued request competes at now (0 = realtime): its class minus the aging periods
 * crossed since it arrived. It keeps falling below 0, so no class starves; a request that timed
 * out under a 'keep' policy competes after all others.
 */
export function rankAt(queued: QueuedRequest, nowMs: number, agingMs: number): number {
  if (queued.timedOut) return Number.MAX_SAFE_INTEGER;
  return classRank(queued.request.sloClass) - (agingPeriods(nowMs, agingMs) - agingPeriods(queued.arrivedAtMs, agingMs));
}

/** Doubles a typed array's length (filled with `fill` past the old end). */
function grown<A extends Float64Array | Int32Array | Uint8Array>(old: A, size: number, fill = 0): A {
  const next = new (old.constructor as new (n: number) => A)(size);
  next.set(old);
  if (fill !== 0) next.fill(fill, old.length);
  return next;
}

/**
 * A binary min-heap of queue slots ordered by two or three numeric keys. The keys sit in typed
 * arrays by heap position, so a comparison reads two adjacent slots instead of chasing two records
 * through memory (a million-deep queue is far larger than the caches); `pos` gives each slot's
 * heap position, so any slot can be removed or re-keyed in O(log n).
 */
class SlotHeap {
  private slots = new Int32Array(16);
  private k1 = new Float64Array(16);
  private k2 = new Float64Array(16);
  /** The third key; empty for a heap of two keys. */
  private k3: Float64Array;
  /** Heap position of each slot; -1 when the slot is not in this heap. */
  pos = new Int32Array(16).fill(-1);
  size = 0;

  constructor(private readonly keys: (slot: number) => readonly [number, number, number], private readonly keyCount: 2 | 3) {
    this.k3 = new Float64Array(keyCount === 3 ? 16 : 0);
  }

  /** Makes room for slots below `slotCount`. */
  reserve(slotCount: number): void {
    if (slotCount > this.pos.length) this.pos = grown(this.pos, slotCount, -1);
  }

  get top(): number {
    return this.size === 0 ? -1 : this.slots[0]!;
  }

  /** First key of the top (undefined when empty). */
  get topKey(): number | undefined {
    return this.size === 0 ? undefined : this.k1[0];
  }

  /** Slot at heap position i. */
  at(i: number): number {
    return this.slots[i]!;
  }

  /** Whether the slot at position i comes before the one at j. */
  before(i: number, j: number): boolean {
    if (this.k1[i] !== this.k1[j]) return this.k1[i]! < this.k1[j]!;
    if (this.keyCount === 2 || this.k2[i] !== this.k2[j]) return this.k2[i]! < this.k2[j]!;
    return this.k3[i]! < this.k3[j]!;
  }

  push(slot: number): void {
    const i = this.size;
    if (i === this.slots.length) this.grow();
    this.size++;
    this.place(i, slot);
    this.up(i);
  }

  remove(slot: number): void {
    const i = this.pos[slot]!;
    const last = this.slots[--this.size]!;
    this.pos[slot] = -1;
    if (last === slot) return;
    this.place(i, last);
    this.up(i);
    this.down(this.pos[last]!);
  }

  /** Restores the order after the slot's keys changed. */
  update(slot: number): void {
    this.place(this.pos[slot]!, slot);
    this.up(this.pos[slot]!);
    this.down(this.pos[slot]!);
  }

  private grow(): void {
    const size = this.slots.length * 2;
    this.slots = grown(this.slots, size);
    this.k1 = grown(this.k1, size);
    this.k2 = grown(this.k2, size);
    if (this.keyCount === 3) this.k3 = grown(this.k3, size);
  }

  private place(i: number, slot: number): void {
    const [a, b, c] = this.keys(slot);
    this.set(i, slot, a, b, c);
  }

  private set(i: number, slot: number, a: number, b: number, c: number): void {
    this.slots[i] = slot;
    this.k1[i] = a;
    this.k2[i] = b;
    if (this.keyCount === 3) this.k3[i] = c;
    this.pos[slot] = i;
  }

  /** Moves the entry at position `from` to `to` (keys and slot). */
  private move(from: number, to: number): void {
    this.set(to, this.slots[from]!, this.k1[from]!, this.k2[from]!, this.keyCount === 3 ? this.k3[from]! : 0);
  }

  /** Whether keys (a, b, c) come before the entry at position j. */
  private precedes(a: number, b: number, c: number, j: number): boolean {
    if (a !== this.k1[j]) return a < this.k1[j]!;
    if (this.keyCount === 2 || b !== this.k2[j]) return b < this.k2[j]!;
    return c < this.k3[j]!;
  }

  private up(i: number): void {
    const slot = this.slots[i]!;
    const a = this.k1[i]!;
    const b = this.k2[i]!;
    const c = this.keyCount === 3 ? this.k3[i]! : 0;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.precedes(a, b, c, p)) break;
      this.move(p, i);
      i = p;
    }
    this.set(i, slot, a, b, c);
  }

  private down(i: number): void {
    const size = this.size;
    const slot = this.slots[i]!;
    const a = this.k1[i]!;
    const b = this.k2[i]!;
    const c = this.keyCount === 3 ? this.k3[i]! : 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const m = r < size && this.before(r, l) ? r : l;
      // Keys never tie (arrival order is last), so 'not before' means 'after'.
      if (this.precedes(a, b, c, m)) break;
      this.move(m, i);
      i = m;
    }
    this.set(i, slot, a, b, c);
  }
}

/** What a queue discipline sees of a queue: its size, its most urgent requests, all in arrival order. */
export interface QueueView extends Iterable<QueuedRequest> {
  readonly size: number;
  /** Up to `count` requests, most urgent first, in O(count log count). */
  mostUrgent(count: number): QueuedRequest[];
}

/**
 * The queue keeps no object per request: a request's numbers sit in typed arrays at a slot of its
 * own (reused once it leaves), beside the request itself, and `QueuedRequest`s are made when
 * asked for. A million queued requests are then a million references and a few typed arrays,
 * not also a million records and four million boxed numbers.
 */
export class RequestQueue implements QueueView {
  /** Request id → slot. */
  private readonly byId = new Map<string, number>();
  private requests: (InferenceRequest | undefined)[] = [];
  private seqs = new Float64Array(16);
  private arrived = new Float64Array(16);
  private timeouts = new Float64Array(16);
  private timedOut = new Uint8Array(16);
  /** Slots given back, reused last in first out (which is what lets an undo take its slot back). */
  private free = new Int32Array(16);
  private freeCount = 0;
  private highWater = 0;
  /** Urgency: tier (class + aging periods; Infinity once timed out), then deadline, then arrival. */
  private readonly urgency = new SlotHeap((s) => [this.tierOf(s), this.requests[s]!.deadlineMs, this.seqs[s]!], 3);
  /** Requests not timed out, by deadline then arrival. */
  private readonly deadlines = new SlotHeap((s) => [this.requests[s]!.deadlineMs, this.seqs[s]!, 0], 2);
  /**
   * Arrival order as (slot, seq) pairs: an entry is live while its slot is queued with that seq.
   * Removed entries stay until the head passes them (or a compaction drops them).
   */
  private arrivalSlots = new Int32Array(16);
  private arrivalSeqs = new Float64Array(16);
  private head = 0;
  private tail = 0;

  constructor(readonly agingMs: number) {}

  get size(): number {
    return this.byId.size;
  }

  get(requestId: string): QueuedRequest | undefined {
    const slot = this.byId.get(requestId);
    return slot === undefined ? undefined : this.view(slot);
  }

  has(requestId: string): boolean {
    return this.byId.has(requestId);
  }

  /** Earliest deadline among requests not timed out (Infinity when none). */
  get tightestDeadlineMs(): number {
    return this.deadlines.topKey ?? Infinity;
  }

  /** Arrival of the oldest queued request (Infinity when empty). */
  get oldestArrivalMs(): number {
    return this.byId.size === 0 ? Infinity : this.arrived[this.arrivalSlots[this.head]!]!;
  }

  add(queued: QueuedRequest, undo?: UndoLog): void {
    const slot = this.allocate();
    this.requests[slot] = queued.request;
    this.seqs[slot] = queued.seq;
    this.arrived[slot] = queued.arrivedAtMs;
    this.timeouts[slot] = queued.timeoutAtMs;
    this.timedOut[slot] = queued.timedOut ? 1 : 0;
    this.insert(slot);
    if (this.tail === this.arrivalSlots.length) this.makeRoom(undo === undefined);
    this.arrivalSlots[this.tail] = slot;
    this.arrivalSeqs[this.tail] = queued.seq;
    this.tail++;
    undo?.push(() => {
      this.detach(slot);
      this.tail--;
    });
  }

  remove(requestId: string, undo?: UndoLog): void {
    const slot = this.byId.get(requestId);
    if (slot === undefined) return;
    const request = this.requests[slot]!;
    const [seq, arrivedAtMs, timeoutAtMs, timedOut] = [this.seqs[slot]!, this.arrived[slot]!, this.timeouts[slot]!, this.timedOut[slot]!];
    this.detach(slot);
    const head = this.head;
    while (this.head < this.tail && !this.liveAt(this.head)) this.head++;
    if (undo !== undefined) {
      undo.push(() => {
        // Undone in reverse order, so the slot is the last one given back: take it again.
        this.freeCount--;
        this.requests[slot] = request;
        this.seqs[slot] = seq;
        this.arrived[slot] = arrivedAtMs;
        this.timeouts[slot] = timeoutAtMs;
        this.timedOut[slot] = timedOut;
        this.insert(slot);
        this.head = head;
      });
    } else if (this.head >= 1024 && this.head * 2 >= this.tail) {
      // Drop the removed prefix once it is half the log: amortised O(1) per removal.
      this.makeRoom(true);
    }
  }

  /** Moves a request behind every request that has not timed out ('keep' policy). */
  markTimedOut(requestId: string, undo?: UndoLog): void {
    const slot = this.byId.get(requestId);
    if (slot === undefined || this.timedOut[slot] === 1) return;
    this.setTimedOut(slot, true);
    undo?.push(() => this.setTimedOut(slot, false));
  }

  mostUrgent(count: number): QueuedRequest[] {
    const heap = this.urgency;
    const out: QueuedRequest[] = [];
    if (count <= 0 || heap.size === 0) return out;
    // The k smallest of a heap without touching it: a small frontier heap of candidate positions.
    const frontier: number[] = [0];
    const before = (a: number, b: number): boolean => heap.before(a, b);
    while (out.length < count && frontier.length > 0) {
      const top = frontier[0]!;
      out.push(this.view(heap.at(top)));
      const last = frontier.pop()!;
      if (frontier.length > 0) {
        frontier[0] = last;
        siftDown(frontier, 0, before);
      }
      for (const child of [2 * top + 1, 2 * top + 2]) {
        if (child >= heap.size) continue;
        frontier.push(child);
        siftUp(frontier, frontier.length - 1, before);
      }
    }
    return out;
  }

  *[Symbol.iterator](): Iterator<QueuedRequest> {
    for (let i = this.head; i < this.tail; i++) {
      if (this.liveAt(i)) yield this.view(this.arrivalSlots[i]!);
    }
  }

  /** A copy that shares nothing mutable with this queue (a snapshot to start another run from). */
  copy(agingMs = this.agingMs): RequestQueue {
    const out = new RequestQueue(agingMs);
    for (const q of this) out.add(q);
    return out;
  }

  private view(slot: number): QueuedRequest {
    return { request: this.requests[slot]!, seq: this.seqs[slot]!, arrivedAtMs: this.arrived[slot]!, timeoutAtMs: this.timeouts[slot]!, timedOut: this.timedOut[slot] === 1 };
  }

  /** Whether the arrival log's entry i is a request still queued. */
  private liveAt(i: number): boolean {
    const slot = this.arrivalSlots[i]!;
    return this.urgency.pos[slot]! >= 0 && this.seqs[slot] === this.arrivalSeqs[i];
  }

  private tierOf(slot: number): number {
    return this.timedOut[slot] === 1 ? Infinity : classRank(this.requests[slot]!.sloClass) + agingPeriods(this.arrived[slot]!, this.agingMs);
  }

  private allocate(): number {
    if (this.freeCount > 0) return this.free[--this.freeCount]!;
    const slot = this.highWater++;
    if (slot === this.seqs.length) {
      const size = slot * 2;
      this.seqs = grown(this.seqs, size);
      this.arrived = grown(this.arrived, size);
      this.timeouts = grown(this.timeouts, size);
      this.timedOut = grown(this.timedOut, size);
      this.free = grown(this.free, size);
    }
    this.urgency.reserve(this.seqs.length);
    this.deadlines.reserve(this.seqs.length);
    return slot;
  }

  private insert(slot: number): void {
    this.byId.set(this.requests[slot]!.requestId, slot);
    this.urgency.push(slot);
    if (this.timedOut[slot] === 0) this.deadlines.push(slot);
  }

  /** Takes a slot out of the indexes and gives it back for reuse. */
  private detach(slot: number): void {
    this.byId.delete(this.requests[slot]!.requestId);
    this.urgency.remove(slot);
    if (this.deadlines.pos[slot]! >= 0) this.deadlines.remove(slot);
    this.requests[slot] = undefined;
    this.free[this.freeCount++] = slot;
  }

  /**
   * Room at the end of the arrival log: drops the removed prefix where allowed and it frees at
   * least half, else doubles the log. Under an undo log nothing moves (the undo keeps positions).
   */
  private makeRoom(compact: boolean): void {
    const live = this.tail - this.head;
    if (compact && live * 2 <= this.arrivalSlots.length && this.head > 0) {
      this.arrivalSlots.copyWithin(0, this.head, this.tail);
      this.arrivalSeqs.copyWithin(0, this.head, this.tail);
      this.head = 0;
      this.tail = live;
      return;
    }
    if (this.tail < this.arrivalSlots.length) return;
    this.arrivalSlots = grown(this.arrivalSlots, this.arrivalSlots.length * 2);
    this.arrivalSeqs = grown(this.arrivalSeqs, this.arrivalSeqs.length * 2);
  }

  private setTimedOut(slot: number, timedOut: boolean): void {
    this.timedOut[slot] = timedOut ? 1 : 0;
    this.urgency.update(slot);
    if (timedOut) this.deadlines.remove(slot);
    else this.deadlines.push(slot);
  }
}

function siftUp(heap: number[], i: number, before: (a: number, b: number) => boolean): void {
  const x = heap[i]!;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!before(x, heap[p]!)) break;
    heap[i] = heap[p]!;
    i = p;
  }
  heap[i] = x;
}

function siftDown(heap: number[], i: number, before: (a: number, b: number) => boolean): void {
  const x = heap[i]!;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= heap.length) break;
    const r = l + 1;
    const c = r < heap.length && before(heap[r]!, heap[l]!) ? r : l;
    if (!before(heap[c]!, x)) break;
    heap[i] = heap[c]!;
    i = c;
  }
  heap[i] = x;
}
