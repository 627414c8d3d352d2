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

export type SchedulerEvent =
  | BatchFormed
  | BatchAssigned
  | BatchRequeued
  | BatchCompleted
  | RequestRejected
  | WorkerJoined
  | WorkerEvicted;

export type SchedulerEventType = SchedulerEvent['type'];
