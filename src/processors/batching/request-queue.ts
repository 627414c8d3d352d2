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
import type { QueuedRequest } from './queued-request.js';

/** Inverse operations, applied last first to restore the queue. */
export type UndoLog = Array<() => void>;

/** A queued request as the queue holds it: the request and its few numbers, plus heap positions. */
interface Node extends QueuedRequest {
  timedOut: boolean;
  /** Class plus aging periods at arrival (Infinity once timed out): the first urgency key. */
  tier: number;
  /** Position in the urgency heap; -1 when out of the queue. */
  u: number;
  /** Position in the deadline heap; -1 when not in it (timed out, or out of the queue). */
  d: number;
}

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

/**
 * A binary min-heap of nodes ordered by up to three numeric keys. The keys sit in typed arrays by
 * heap position, so a comparison reads two adjacent slots instead of chasing two nodes through
 * memory (a million-deep queue is far larger than the caches). Each node keeps its position in
 * one of its own fields, so any node can be removed or re-keyed in O(log n).
 */
class NodeHeap {
  nodes: Node[] = [];
  private k1 = new Float64Array(16);
  private k2 = new Float64Array(16);
  private k3 = new Float64Array(16);

  constructor(
    private readonly keys: (n: Node) => readonly [number, number, number],
    private readonly pos: 'u' | 'd',
  ) {}

  get top(): Node | undefined {
    return this.nodes[0];
  }

  get size(): number {
    return this.nodes.length;
  }

  /** Node at heap position i. */
  at(i: number): Node {
    return this.nodes[i]!;
  }

  /** Whether the node at position i comes before the one at j. */
  before(i: number, j: number): boolean {
    if (this.k1[i] !== this.k1[j]) return this.k1[i]! < this.k1[j]!;
    if (this.k2[i] !== this.k2[j]) return this.k2[i]! < this.k2[j]!;
    return this.k3[i]! < this.k3[j]!;
  }

  push(n: Node): void {
    const i = this.nodes.length;
    if (i === this.k1.length) this.grow();
    this.nodes.push(n);
    this.place(i, n);
    this.up(i);
  }

  remove(n: Node): void {
    const i = n[this.pos];
    const last = this.nodes.pop()!;
    n[this.pos] = -1;
    if (last === n) return;
    this.place(i, last);
    this.up(i);
    this.down(last[this.pos]);
  }

  /** Restores the order after the node's keys changed. */
  update(n: Node): void {
    this.place(n[this.pos], n);
    this.up(n[this.pos]);
    this.down(n[this.pos]);
  }

  private grow(): void {
    const size = this.k1.length * 2;
    for (const k of ['k1', 'k2', 'k3'] as const) {
      const next = new Float64Array(size);
      next.set(this[k]);
      this[k] = next;
    }
  }

  private place(i: number, n: Node): void {
    const [a, b, c] = this.keys(n);
    this.nodes[i] = n;
    this.k1[i] = a;
    this.k2[i] = b;
    this.k3[i] = c;
    n[this.pos] = i;
  }

  /** Moves the entry at position `from` to `to` (keys and node). */
  private move(from: number, to: number): void {
    const n = this.nodes[from]!;
    this.nodes[to] = n;
    this.k1[to] = this.k1[from]!;
    this.k2[to] = this.k2[from]!;
    this.k3[to] = this.k3[from]!;
    n[this.pos] = to;
  }

  /** Whether keys (a, b, c) come before the entry at position j. */
  private precedes(a: number, b: number, c: number, j: number): boolean {
    if (a !== this.k1[j]) return a < this.k1[j]!;
    if (b !== this.k2[j]) return b < this.k2[j]!;
    return c < this.k3[j]!;
  }

  private up(i: number): void {
    const n = this.nodes[i]!;
    const a = this.k1[i]!;
    const b = this.k2[i]!;
    const c = this.k3[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.precedes(a, b, c, p)) break;
      this.move(p, i);
      i = p;
    }
    this.nodes[i] = n;
    this.k1[i] = a;
    this.k2[i] = b;
    this.k3[i] = c;
    n[this.pos] = i;
  }

  private down(i: number): void {
    const size = this.nodes.length;
    const n = this.nodes[i]!;
    const a = this.k1[i]!;
    const b = this.k2[i]!;
    const c = this.k3[i]!;
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
    this.nodes[i] = n;
    this.k1[i] = a;
    this.k2[i] = b;
    this.k3[i] = c;
    n[this.pos] = i;
  }
}

/** Urgency: tier (class + aging periods; Infinity once timed out), then deadline, then arrival. */
const urgencyKeys = (n: Node): [number, number, number] => [n.tier, n.request.deadlineMs, n.seq];
const deadlineKeys = (n: Node): [number, number, number] => [n.request.deadlineMs, n.seq, 0];

/** What a queue discipline sees of a queue: its size, its most urgent requests, all in arrival order. */
export interface QueueView extends Iterable<QueuedRequest> {
  readonly size: number;
  /** Up to `count` requests, most urgent first, in O(count log count). */
  mostUrgent(count: number): QueuedRequest[];
}

export class RequestQueue implements QueueView {
  private readonly byId = new Map<string, Node>();
  private readonly urgency = new NodeHeap(urgencyKeys, 'u');
  private readonly deadlines = new NodeHeap(deadlineKeys, 'd');
  /** Arrival order; removed nodes stay until the head passes them (or a compaction drops them). */
  private arrivals: Node[] = [];
  private head = 0;

  constructor(readonly agingMs: number) {}

  get size(): number {
    return this.byId.size;
  }

  get(requestId: string): QueuedRequest | undefined {
    return this.byId.get(requestId);
  }

  /** Earliest deadline among requests not timed out (Infinity when none). */
  get tightestDeadlineMs(): number {
    return this.deadlines.top?.request.deadlineMs ?? Infinity;
  }

  /** Arrival of the oldest queued request (Infinity when empty). */
  get oldestArrivalMs(): number {
    return this.byId.size === 0 ? Infinity : this.arrivals[this.head]!.arrivedAtMs;
  }

  add(queued: QueuedRequest, undo?: UndoLog): void {
    const node: Node = {
      request: queued.request,
      seq: queued.seq,
      arrivedAtMs: queued.arrivedAtMs,
      timeoutAtMs: queued.timeoutAtMs,
      timedOut: queued.timedOut,
      tier: 0,
      u: -1,
      d: -1,
    };
    this.insert(node);
    this.arrivals.push(node);
    undo?.push(() => {
      this.detach(node);
      this.arrivals.pop();
    });
  }

  remove(requestId: string, undo?: UndoLog): void {
    const node = this.byId.get(requestId);
    if (node === undefined) return;
    this.detach(node);
    const head = this.head;
    while (this.head < this.arrivals.length && this.arrivals[this.head]!.u < 0) this.head++;
    if (undo !== undefined) {
      undo.push(() => {
        this.insert(node);
        this.head = head;
      });
    } else if (this.head >= 1024 && this.head * 2 >= this.arrivals.length) {
      // Drop the removed prefix once it is half the array: amortised O(1) per removal.
      this.arrivals = this.arrivals.slice(this.head);
      this.head = 0;
    }
  }

  /** Moves a request behind every request that has not timed out ('keep' policy). */
  markTimedOut(requestId: string, undo?: UndoLog): void {
    const node = this.byId.get(requestId);
    if (node === undefined || node.timedOut) return;
    this.setTimedOut(node, true);
    undo?.push(() => this.setTimedOut(node, false));
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
      out.push(heap.at(top));
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
    for (let i = this.head; i < this.arrivals.length; i++) {
      const node = this.arrivals[i]!;
      if (node.u >= 0) yield node;
    }
  }

  /** A copy that shares nothing mutable with this queue (a snapshot to start another run from). */
  copy(agingMs = this.agingMs): RequestQueue {
    const out = new RequestQueue(agingMs);
    for (const q of this) out.add(q);
    return out;
  }

  private insert(node: Node): void {
    node.tier = node.timedOut ? Infinity : classRank(node.request.sloClass) + agingPeriods(node.arrivedAtMs, this.agingMs);
    this.byId.set(node.request.requestId, node);
    this.urgency.push(node);
    if (!node.timedOut) this.deadlines.push(node);
  }

  private detach(node: Node): void {
    this.byId.delete(node.request.requestId);
    this.urgency.remove(node);
    if (node.d >= 0) this.deadlines.remove(node);
  }

  private setTimedOut(node: Node, timedOut: boolean): void {
    node.timedOut = timedOut;
    node.tier = timedOut ? Infinity : classRank(node.request.sloClass) + agingPeriods(node.arrivedAtMs, this.agingMs);
    this.urgency.update(node);
    if (timedOut) this.deadlines.remove(node);
    else this.deadlines.push(node);
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
