/**
 * scheduler.events (key: model): every decision the dispatcher makes, the source of truth for
 * replay. `inputs` names the input offsets a decision consumed, so replay can check it used the same.
 */
export interface DecisionContext {
  /** Logical time of the decision, epoch ms. */
  atMs: number;
  /** 'topic:partition:offset' of each input applied, or 'tick:<ms>' for a timer. */
  inputs: string[];
}

export interface BatchFormed extends DecisionContext {
  type: 'BatchFormed';
  batchId: string;
  model: string;
  modelVersion: string;
  requestIds: string[];
  reason: 'FULL' | 'PREFERRED_SIZE' | 'DEADLINE' | 'MAX_DELAY' | 'CAPACITY';
}

export interface BatchAssigned extends DecisionContext {
  type: 'BatchAssigned';
  batchId: string;
  model: string;
  workerId: string;
  workerEpoch: number;
  deviceUuid: string;
  reservedBytes: number;
}

export interface BatchRequeued extends DecisionContext {
  type: 'BatchRequeued';
  batchId: string;
  model: string;
  requestIds: string[];
  reason: string;
}

export interface BatchCompleted extends DecisionContext {
  type: 'BatchCompleted';
  batchId: string;
  model: string;
  workerId: string;
  workerEpoch: number;
  serviceTimeUs: number;
}

export interface RequestRejected extends DecisionContext {
  type: 'RequestRejected';
  requestId: string;
  model: string;
  tenant: string;
  reason: string;
  /**
   * Whether the rejection takes the request out of a batch the scheduler holds (queued or in
   * flight). False when it never joined one: rejected by the batcher, by admission, or by the
   * scheduler before its batch was queued. A fold then has nothing to look up. Events written
   * before this field read as true (looked up, as they always were).
   */
  leavesBatch: boolean;
}

export interface WorkerJoined extends DecisionContext {
  type: 'WorkerJoined';
  workerId: string;
  workerEpoch: number;
  deviceUuids: string[];
}

export interface WorkerEvicted extends DecisionContext {
  type: 'WorkerEvicted';
  workerId: string;
  workerEpoch: number;
  reason: string;
}

/**
 * The canary of a model fell behind its stable version (error rate or SLO attainment over the
 * guard's window, both with enough samples): from this decision on every request goes to stable,
 * until a new manifest of the model arrives.
 */
export interface RolloutAborted extends DecisionContext {
  type: 'RolloutAborted';
  model: string;
  stableVersion: string;
  canaryVersion: string;
  reason: string;
  stableSamples: number;
  canarySamples: number;
  stableErrorRate: number;
  canaryErrorRate: number;
  /** Share of the window's requests answered by their deadline, 0 to 1. */
  stableAttainment: number;
  canaryAttainment: number;
}

export type SchedulerEvent =
  | BatchFormed
  | BatchAssigned
  | BatchRequeued
  | BatchCompleted
  | RequestRejected
  | WorkerJoined
  | WorkerEvicted
  | RolloutAborted;

export type SchedulerEventType = SchedulerEvent['type'];
