import type { InferenceRequest } from '../../domain/events/request.js';

/** A request waiting in a batcher queue, with what the batcher learned when it arrived. */
export interface QueuedRequest {
  readonly request: InferenceRequest;
  /** Arrival order within the queue: the tie-breaker that keeps equal requests FIFO. */
  readonly seq: number;
  readonly arrivedAtMs: number;
  /** When the queue policy's timeout fires for it (Infinity: never). */
  readonly timeoutAtMs: number;
  /** Timed out under a 'keep' policy: still queued, but drawn after every request that is not. */
  readonly timedOut: boolean;
}
