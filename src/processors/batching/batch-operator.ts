/**
 * `batchRequests({ batcher, scheduler })`: drives the batcher decider from one stream of inputs
 * (requests, capacity signals and measured batches, merged by the caller) and emits formed
 * batches, with their requests, and rejections.
 *
 * Timers live in a timing wheel; only one RxJS action is ever scheduled, for the wheel's earliest
 * expiry, and it is moved when that changes, so nothing polls and a TestScheduler drives it all
 * in virtual time. When the source completes, every request still queued is rejected (reason
 * 'batcher stopped …') before completing, so no request is silently dropped.
 *
 * @example
 * const out$ = merge(requests$, capacity$, observed$).pipe(
 *   batchRequests({ batcher: createBatcher(), scheduler: asyncScheduler }),
 * );
 * out$.subscribe((o) => (o.type === 'BatchFormed' ? sendToWorker(o.event, o.requests) : reply(o.event)));
 */
import { Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import type { InferenceRequest } from '../../domain/events/request.js';
import type { BatchFormed, RequestRejected } from '../../domain/events/scheduler.js';
import { copyState, type Batcher, type BatcherState } from './batcher.js';
import type { BatcherEvent } from './batcher-event.js';
import type { BatcherInput, BatcherStopped, BatcherTimer, TimerFired } from './batcher-input.js';
import { TimingWheel, type TimerId } from './timing-wheel.js';

export type BatcherSourceInput = Exclude<BatcherInput, TimerFired | BatcherStopped>;

type FlushTimer = Extract<BatcherTimer, { kind: 'flush' }>;

export type BatcherOutput =
  | { readonly type: 'BatchFormed'; readonly event: BatchFormed; readonly requests: readonly InferenceRequest[] }
  | { readonly type: 'RequestRejected'; readonly event: RequestRejected };

export interface BatchRequestsOptions {
  readonly batcher: Batcher;
  /** Source of time and of the one timer action (asyncScheduler live, TestScheduler in tests). */
  readonly scheduler: SchedulerLike;
  /** Timing-wheel resolution, ms (default 1). */
  readonly tickMs?: number;
  /** State to start from (a restored snapshot; each subscription starts from its own copy); default the batcher's initial state. */
  readonly initialState?: BatcherState;
  /** Sees every decided event, internal ones included (for recording decisions). */
  readonly onEvent?: (event: BatcherEvent) => void;
}

export function batchRequests(options: BatchRequestsOptions): OperatorFunction<BatcherSourceInput, BatcherOutput> {
  const { batcher, scheduler } = options;
  return (source) =>
    new Observable<BatcherOutput>((subscriber) => {
      let state = options.initialState === undefined ? batcher.initialState() : copyState(options.initialState);
      // A queued request's timeout is its id in the wheel (a string it holds anyway), not a timer
      // object of its own: a million queued requests are a million timers. Its queue is looked up
      // when it fires.
      const wheel = new TimingWheel<string | FlushTimer>({ startMs: scheduler.now(), tickMs: options.tickMs ?? 1 });
      const timeoutTimers = new Map<string, TimerId>();
      const flushTimers = new Map<string, TimerId>();
      let wake: { atMs: number; action: Subscription } | undefined;
      // Inputs that arrive while one is being applied (a subscriber feeding capacity back
      // synchronously) wait their turn, so decisions never interleave.
      const pending: BatcherInput[] = [];
      let applying = false;

      const track = (event: BatcherEvent): void => {
        switch (event.type) {
          case 'RequestQueued': {
            const { queued } = event;
            if (!queued.timedOut && Number.isFinite(queued.timeoutAtMs)) {
              timeoutTimers.set(queued.request.requestId, wheel.schedule(queued.timeoutAtMs, queued.request.requestId));
            }
            break;
          }
          case 'BatchFormed':
            for (const id of event.requestIds) cancelTimeout(id);
            break;
          case 'RequestRejected':
          case 'RequestTimedOut':
            cancelTimeout(event.requestId);
            break;
          case 'FlushTimerSet': {
            const old = flushTimers.get(event.queue);
            if (old !== undefined) wheel.cancel(old);
            flushTimers.delete(event.queue);
            if (event.atMs !== null) flushTimers.set(event.queue, wheel.schedule(event.atMs, { kind: 'flush', queue: event.queue }));
            break;
          }
          default:
            break;
        }
      };

      const cancelTimeout = (requestId: string): void => {
        const id = timeoutTimers.get(requestId);
        if (id === undefined) return;
        wheel.cancel(id);
        timeoutTimers.delete(requestId);
      };

      const applyOne = (input: BatcherInput): void => {
        const result = batcher.apply(state, input, scheduler.now());
        state = result.state;
        const outputs: BatcherOutput[] = [];
        for (const event of result.events) {
          if (event.type === 'BatchFormed') outputs.push({ type: 'BatchFormed', event, requests: result.members.get(event.batchId) ?? [] });
          else if (event.type === 'RequestRejected') outputs.push({ type: 'RequestRejected', event });
          track(event);
          options.onEvent?.(event);
        }
        for (const output of outputs) subscriber.next(output);
      };

      const apply = (input: BatcherInput): void => {
        pending.push(input);
        if (applying) return;
        applying = true;
        try {
          for (let next = pending.shift(); next !== undefined; next = pending.shift()) applyOne(next);
        } finally {
          applying = false;
        }
        armWake();
      };

      const onWake = (): void => {
        wake = undefined;
        const fired: BatcherTimer[] = [];
        wheel.advanceTo(scheduler.now(), (timer) => {
          if (typeof timer !== 'string') {
            flushTimers.delete(timer.queue);
            fired.push(timer);
            return;
          }
          timeoutTimers.delete(timer);
          // A timeout is cancelled when its request leaves the queue, so the request is queued.
          const queue = Object.values(state.queues).find((q) => q.requests.has(timer));
          if (queue !== undefined) fired.push({ kind: 'timeout', queue: queue.key, requestId: timer });
        });
        for (const timer of fired) apply({ type: 'TimerFired', timer });
        armWake();
      };

      /** Keeps exactly one scheduled action, at the wheel's earliest expiry. */
      const armWake = (): void => {
        const atMs = wheel.nextExpiryMs();
        if (wake !== undefined && wake.atMs === atMs) return;
        wake?.action.unsubscribe();
        wake = undefined;
        if (atMs === undefined) return;
        wake = { atMs, action: scheduler.schedule(onWake, Math.max(0, atMs - scheduler.now())) };
      };

      const subscription = source.subscribe({
        next: (input) => apply(input),
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          apply({ type: 'BatcherStopped', inputRef: `stop:${scheduler.now()}` });
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        wake?.action.unsubscribe();
        wake = undefined;
      };
    });
}
