/**
 * Drives the dispatcher core (src/processors/dispatch/dispatcher-core.ts, the one the live
 * dispatcher runs) through recorded turns on a VirtualClock: each input at its logical time, and
 * the batcher's timer exactly when the journal says it fired live. Replay (verify) and what-if
 * (simulate) both use it. What the live process does around the core (decoding, tensor
 * admission, sending batches, answering clients) is not re-done: the journal lists requests
 * that passed admission as inputs, and those refused there as rejections with the reason, whose
 * RequestRejected decisions are re-made as the live process made them.
 */
import { GpuflowError } from '../domain/errors.js';
import type { InferenceRequest, SchedulerEvent } from '../domain/events/index.js';
import type { QueuePolicy } from '../processors/batching/queue-policy.js';
import { createDispatcherCore, type SignalInput } from '../processors/dispatch/dispatcher-core.js';
import type { SchedulerConfig } from '../processors/scheduling/config.js';
import { VirtualClock } from './virtual-clock.js';

/** One input as the dispatcher applied it; `ref` is the journal's ('topic:partition:offset' or 'tick:<ms>'). */
export type CoreInput = { kind: 'request'; ref: string; request: InferenceRequest } | SignalInput;

/**
 * A turn: an input at its logical time, the batcher's timer firing at the time it fired, or a
 * request refused at admission (`ref` is its input's).
 */
export type Turn =
  | { atMs: number; input: CoreInput }
  | { atMs: number; wake: true }
  | { atMs: number; refused: { ref: string; request: InferenceRequest; reason: string } };

export interface DispatchCoreOptions {
  /** The logical time the process started at (its batcher's timers count from it). */
  startMs: number;
  queuePolicy?: Partial<QueuePolicy>;
  scheduler?: Partial<SchedulerConfig>;
  /** Every decision, in publish order. */
  onDecision: (event: SchedulerEvent) => void;
}

export interface DispatchCore {
  apply(turn: Turn): void;
  /** When the batcher's timer is next due (undefined: none armed). */
  nextWakeMs(): number | undefined;
  /** Inputs whose handling threw (the live process logs and skips them the same way). */
  readonly inputErrors: readonly string[];
  close(): void;
}

/** The turns given do not fit the decisions being re-made (a timer fired that nothing armed). */
export class ReplayDivergence extends GpuflowError {}

export function createDispatchCore(options: DispatchCoreOptions): DispatchCore {
  const clock = new VirtualClock(options.startMs);
  const inputErrors: string[] = [];
  let failure: unknown;
  const core = createDispatcherCore<undefined>({
    clock,
    queuePolicy: options.queuePolicy,
    scheduler: options.scheduler,
    effects: { decided: options.onDecision, rejected: () => undefined, finished: () => undefined, failed: (error) => (failure = error) },
  });
  return {
    apply(turn) {
      if (failure !== undefined) throw new ReplayDivergence('the batcher failed on an earlier turn', { cause: failure });
      if ('wake' in turn) {
        if (!clock.fire(turn.atMs)) throw new ReplayDivergence(`a batcher timer fired at ${turn.atMs} that the re-decided batcher had not armed`);
        return;
      }
      clock.setTime(turn.atMs);
      if ('refused' in turn) {
        const { ref, request, reason } = turn.refused;
        options.onDecision({ type: 'RequestRejected', atMs: turn.atMs, inputs: [ref], requestId: request.requestId, model: request.model, tenant: request.tenant, reason, leavesBatch: false });
        return;
      }
      const { input } = turn;
      try {
        if (input.kind === 'request') core.admit({ ref: input.ref, request: input.request, held: undefined });
        else core.apply(input);
      } catch (error) {
        // The live process logs such an input and serves on; so does the replay, counting it.
        inputErrors.push(`${input.ref}: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
    nextWakeMs: () => clock.nextDueMs(),
    inputErrors,
    close: () => core.close(),
  };
}
