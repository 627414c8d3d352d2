/**
 * The live dispatcher's clock: an RxJS SchedulerLike whose time is the current turn's. A turn is
 * everything done synchronously for one input or one timer firing; its time is read from the wall
 * clock once, when it starts, so every decision of the turn carries the same time and the journal
 * can record it. Timers run on the async scheduler; each firing starts a turn of its own and is
 * reported (for the journal) before its work runs. Replay's VirtualClock is the same contract in
 * virtual time.
 */
import { asyncScheduler, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';

export class TurnClock implements SchedulerLike {
  private turnMs: number;

  /** `onWake` hears each timer turn's time before its work runs. */
  constructor(startMs: number, private readonly onWake: (atMs: number) => void) {
    this.turnMs = startMs;
  }

  now(): number {
    return this.turnMs;
  }

  /** Starts a turn driven by an input: reads the wall clock, once. */
  startTurn(): number {
    this.turnMs = Date.now();
    return this.turnMs;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    const clock = this;
    return asyncScheduler.schedule<T>(function (this: SchedulerAction<T>, s?: T) {
      clock.onWake(clock.startTurn());
      work.call(this, s);
    }, delay, state as T);
  }
}
