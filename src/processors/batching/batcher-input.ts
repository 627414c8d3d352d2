/**
 * What the batcher reacts to. Every input but a timer names where it came from (`inputRef`,
 * 'topic:partition:offset'), so each decision can say which inputs it consumed.
 */
import type { ModelManifest } from '../../domain/events/manifest.js';
import type { InferenceRequest } from '../../domain/events/request.js';
import type { QueuePolicy } from './queue-policy.js';

/** The two timers the batcher asks for: a queue's next flush, a request's queue timeout. */
export type BatcherTimer =
  | { readonly kind: 'flush'; readonly queue: string }
  | { readonly kind: 'timeout'; readonly queue: string; readonly requestId: string };

export interface RequestArrived {
  readonly type: 'RequestArrived';
  readonly request: InferenceRequest;
  readonly inputRef: string;
}

/** Workers can take `slots` more batches (a worker freed a slot, or joined). */
export interface CapacityAvailable {
  readonly type: 'CapacityAvailable';
  readonly slots: number;
  readonly inputRef: string;
}

export interface TimerFired {
  readonly type: 'TimerFired';
  readonly timer: BatcherTimer;
}

/** A batch of the model finished: its measured service time feeds batch sizing. */
export interface BatchObserved {
  readonly type: 'BatchObserved';
  readonly model: string;
  readonly modelVersion: string;
  readonly batchSize: number;
  readonly serviceTimeMs: number;
  readonly inputRef: string;
}

/** A model version's manifest, the memory its batches may use on the target GPU, and policy overrides. */
export interface ManifestUpdated {
  readonly type: 'ManifestUpdated';
  readonly manifest: ModelManifest;
  /** Device memory a batch of this model may take (bytes); Infinity: only the manifest limits it. */
  readonly memoryBudgetBytes: number;
  readonly policy?: Partial<QueuePolicy>;
  readonly inputRef: string;
}

/** The model was retired: its queued requests are rejected with the reason and its queues go. */
export interface ModelRetired {
  readonly type: 'ModelRetired';
  readonly model: string;
  readonly inputRef: string;
}

/** The batcher is stopping: every queued request is rejected so that none is silently lost. */
export interface BatcherStopped {
  readonly type: 'BatcherStopped';
  readonly inputRef: string;
}

export type BatcherInput = RequestArrived | CapacityAvailable | TimerFired | BatchObserved | ManifestUpdated | ModelRetired | BatcherStopped;
