/**
 * The order in which queued requests are drawn into a batch, behind one small interface so that
 * another discipline (tenant weighted fair share) can replace the default without touching the
 * batcher. A discipline may keep state (deficit counters, virtual finish times); the batcher
 * stores it per queue and folds each formed batch into it with `charge`, so it replays exactly.
 */
import type { QueuedRequest } from './queued-request.js';
import type { QueueView } from './request-queue.js';

export interface DisciplineContext {
  readonly nowMs: number;
  /** A request is promoted one SLO class for every aging period of the clock it waits. */
  readonly agingMs: number;
}

export interface QueueDiscipline<S = unknown> {
  readonly name: string;
  initialState(): S;
  /**
   * Up to `count` of `queued`, most deserving first. Pure: must not change `state` or `queued`.
   * `queued.mostUrgent` costs O(count log count); walking the whole queue costs O(n).
   */
  select(state: S, queued: QueueView, count: number, context: DisciplineContext): readonly QueuedRequest[];
  /**
   * Accounts for a batch formed from `members`, drawn from `queued` (the queue as it was when the
   * batch was formed). A fair-share discipline charges tenants here.
   */
  charge(state: S, members: readonly QueuedRequest[], queued: QueueView, context: DisciplineContext): S;
}

/**
 * The default: SLO class priority with aging, earliest deadline first inside a class, FIFO on
 * ties; the queue keeps exactly this order in a heap, so a batch is drawn in O(k log k).
 */
export const classPriorityWithAging: QueueDiscipline<null> = {
  name: 'class-priority-aging-edf',
  initialState: () => null,
  select: (_state, queued, count) => queued.mostUrgent(count),
  charge: (state) => state,
};
