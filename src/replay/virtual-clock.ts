/**
 * An RxJS SchedulerLike whose time moves only when told to. Replay sets it to each recorded turn's
 * time and fires the batcher's timer exactly when the journal says it fired live (which may be
 * later than it was due: a busy event loop delays timers, and that delay is part of what was decided).
 * The what-if simulation fires timers when they are due.
 */
import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';

interface Pending {
  readonly work: (this: SchedulerAction<unknown>, state?: unknown) => void;
  readonly state: unknown;
  readonly dueMs: number;
  readonly order: number;
  readonly subscription: Subscription;
}

export class VirtualClock implements SchedulerLike {
  private nowMs: number;
  private order = 0;
  private readonly pending = new Set<Pending>();

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  /** Moves time to `atMs` without running anything. */
  setTime(atMs: number): void {
    this.nowMs = atMs;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    const subscription = new Subscription();
    const entry: Pending = { work: work as Pending['work'], state, dueMs: this.nowMs + Math.max(0, delay), order: this.order++, subscription };
    subscription.add(() => this.pending.delete(entry));
    this.pending.add(entry);
    return subscription;
  }

  /** When the earliest scheduled action is due; undefined when none is. */
  nextDueMs(): number | undefined {
    return this.earliest()?.dueMs;
  }

  /** Runs the earliest scheduled action with time set to `atMs`; false when none was scheduled. */
  fire(atMs: number): boolean {
    const next = this.earliest();
    this.nowMs = atMs;
    if (next === undefined) return false;
    this.pending.delete(next);
    const clock = this;
    const action = Object.assign(next.subscription, {
      schedule(state?: unknown, delay?: number) {
        return clock.schedule(next.work, delay, state);
      },
    }) as unknown as SchedulerAction<unknown>;
    next.work.call(action, next.state);
    return true;
  }

  private earliest(): Pending | undefined {
    let best: Pending | undefined;
    for (const p of this.pending) if (best === undefined || p.dueMs < best.dueMs || (p.dueMs === best.dueMs && p.order < best.order)) best = p;
    return best;
  }
}
