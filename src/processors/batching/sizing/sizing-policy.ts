/**
 * How big a batch a queue should aim for, chosen per model. Every policy is plain data in and out
 * (its state lives in the batcher's state and replays), and sees the service-time estimate the
 * batcher keeps for the model.
 */
import type { ServiceTimeEstimate } from '../service-time.js';

export interface SizingContext {
  readonly nowMs: number;
  /** Hard cap: the manifest's max batch size and the device memory budget. */
  readonly maxBatch: number;
  /** Earliest deadline among the queue's live requests (Infinity when none). */
  readonly tightestDeadlineMs: number;
  /**
   * Deadlines of the requests a batch would take, most urgent first (up to maxBatch), when the
   * batch is being formed; absent when only a quick bound is wanted (to decide whether to wait).
   */
  readonly candidateDeadlinesMs?: readonly number[];
  readonly estimate: ServiceTimeEstimate;
  /** Multiplier on predicted service time that covers its noise (1.1 = 10% headroom). */
  readonly headroom: number;
}

export interface BatchObservation {
  readonly batchSize: number;
  readonly serviceTimeMs: number;
}

export interface SizingPolicy<S> {
  readonly kind: string;
  initialState(maxBatch: number): S;
  observe(state: S, observation: BatchObservation, maxBatch: number): S;
  /** The batch size to aim for now, 1..maxBatch. */
  target(state: S, context: SizingContext): number;
}
