/**
 * What the batcher decides. BatchFormed and RequestRejected are the domain's scheduler events,
 * as they go to scheduler.events; the others are the batcher's own bookkeeping, which its state
 * is folded from and which tell the shell which timers to hold.
 */
import type { ModelManifest } from '../../domain/events/manifest.js';
import type { BatchFormed, RequestRejected } from '../../domain/events/scheduler.js';
import type { QueuedRequest } from './queued-request.js';
import type { QueuePolicy } from './queue-policy.js';

export interface QueueConfigured {
  readonly type: 'QueueConfigured';
  readonly queue: string;
  readonly manifest: ModelManifest;
  readonly policy: QueuePolicy;
  /** min(manifest max batch size, memory budget / memory per sample). */
  readonly maxBatch: number;
}

/** A request joined its queue; the shell arms its timeout timer at `queued.timeoutAtMs`. */
export interface RequestQueued {
  readonly type: 'RequestQueued';
  readonly queue: string;
  readonly queued: QueuedRequest;
}

/** A request's queue timeout passed under a 'keep' policy: it waits on, behind the others. */
export interface RequestTimedOut {
  readonly type: 'RequestTimedOut';
  readonly queue: string;
  readonly requestId: string;
}

/** The queue's next flush moved; the shell holds one flush timer per queue (null: none). */
export interface FlushTimerSet {
  readonly type: 'FlushTimerSet';
  readonly queue: string;
  readonly atMs: number | null;
}

export interface CapacityGranted {
  readonly type: 'CapacityGranted';
  readonly slots: number;
}

export interface ServiceTimeObserved {
  readonly type: 'ServiceTimeObserved';
  readonly queue: string;
  readonly batchSize: number;
  readonly serviceTimeMs: number;
}

/** The queue's model was retired and its queue is gone (emptied, its flush timer cleared, first). */
export interface QueueRetired {
  readonly type: 'QueueRetired';
  readonly queue: string;
}

export type BatcherEvent =
  | BatchFormed
  | RequestRejected
  | QueueConfigured
  | RequestQueued
  | RequestTimedOut
  | FlushTimerSet
  | CapacityGranted
  | ServiceTimeObserved
  | QueueRetired;
