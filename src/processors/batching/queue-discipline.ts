/**
 * The order in which queued requests are drawn into a batch, behind one small interface so that
 * another discipline (tenant weighted fair share) can replace the default without touching the
 * batcher. A discipline may keep state (deficit counters, virtual finish times); the batcher
 * stores it per queue and folds each formed batch into it with `charge`, so it replays exactly.
 */
import { SLO_CLASSES, type SloClass } from '../../domain/events/request.js';
import type { QueuedRequest } from './queued-request.js';

export interface DisciplineContext {
  readonly nowMs: number;
  /** A request is promoted one SLO class for every `agingMs` it has waited. */
  readonly agingMs: number;
}

export interface QueueDiscipline<S = unknown> {
  readonly name: string;
  initialState(): S;
  /** Up to `count` of `queued`, most deserving first. Pure: must not change `state` or `queued`. */
  select(state: S, queued: readonly QueuedRequest[], count: number, context: DisciplineContext): readonly QueuedRequest[];
  /**
   * Accounts for a batch formed from `members`, drawn from `queued` (the queue as it was when the
   * batch was formed). A fair-share discipline charges tenants here.
   */
  charge(state: S, members: readonly QueuedRequest[], queued: readonly QueuedRequest[], context: DisciplineContext): S;
}

const CLASS_RANK: Readonly<Record<SloClass, number>> = Object.fromEntries(SLO_CLASSES.map((c, i) => [c, i])) as Record<SloClass, number>;

/** 0 for 'realtime', 1 for 'interactive', 2 for 'batch'; unknown classes rank last. */
function classRank(sloClass: string): number {
  return CLASS_RANK[sloClass as SloClass] ?? SLO_CLASSES.length;
}

/**
 * The rank a request competes at now (0 = realtime): its own class, minus one for every `agingMs`
 * it has waited. The rank keeps falling below 0, so a request that has waited long enough goes
 * ahead of everything that arrived after it: no class starves, whatever the load above it. A
 * request that timed out under a 'keep' policy competes after all others.
 */
export function effectiveRank(queued: QueuedRequest, context: DisciplineContext): number {
  if (queued.timedOut) return Number.MAX_SAFE_INTEGER;
  const own = classRank(queued.request.sloClass);
  if (!(context.agingMs > 0) || !Number.isFinite(context.agingMs)) return own;
  return own - Math.max(0, Math.floor((context.nowMs - queued.arrivedAtMs) / context.agingMs));
}

/** The default: SLO class priority with aging, earliest deadline first inside a class, FIFO on ties. */
export const classPriorityWithAging: QueueDiscipline<null> = {
  name: 'class-priority-aging-edf',
  initialState: () => null,
  select: (_state, queued, count, context) => mostUrgent(queued, count, context),
  charge: (state) => state,
};

/**
 * The `count` most urgent of `queued`, most urgent first, in O(n log count): a batch is drawn
 * from queues thousands deep under bursts, so the queue is never sorted whole.
 */
export function mostUrgent(queued: readonly QueuedRequest[], count: number, context: DisciplineContext): QueuedRequest[] {
  const n = queued.length;
  const k = Math.min(count, n);
  if (k <= 0) return [];
  const rank = new Float64Array(n);
  for (let i = 0; i < n; i++) rank[i] = effectiveRank(queued[i]!, context);
  // a before b: more urgent.
  const before = (a: number, b: number): boolean => {
    if (rank[a] !== rank[b]) return rank[a]! < rank[b]!;
    const qa = queued[a]!;
    const qb = queued[b]!;
    if (qa.request.deadlineMs !== qb.request.deadlineMs) return qa.request.deadlineMs < qb.request.deadlineMs;
    return qa.seq < qb.seq;
  };
  // A max-heap (least urgent on top) of the k most urgent seen so far.
  const heap: number[] = [];
  const siftDown = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[m]!, heap[l]!)) m = l;
      if (r < heap.length && before(heap[m]!, heap[r]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  for (let i = 0; i < n; i++) {
    if (heap.length < k) {
      heap.push(i);
      for (let j = heap.length - 1; j > 0; ) {
        const p = (j - 1) >> 1;
        if (!before(heap[p]!, heap[j]!)) break;
        [heap[p], heap[j]] = [heap[j]!, heap[p]!];
        j = p;
      }
    } else if (before(i, heap[0]!)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (before(a, b) ? -1 : 1)).map((i) => queued[i]!);
}
