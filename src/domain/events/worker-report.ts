/**
 * worker.reports (key: model): what a worker tells the dispatcher about a batch it was given.
 * Results go to clients on inference.results; these close the loop for scheduling and batch sizing.
 */
export interface BatchDone {
  type: 'BatchDone';
  batchId: string;
  model: string;
  modelVersion: string;
  workerId: string;
  workerEpoch: number;
  deviceUuid: string;
  batchSize: number;
  /** From taking the batch to producing its results. */
  serviceTimeUs: number;
  transferUs: number;
  computeUs: number;
  timestampMs: number;
}

/** The worker did not run the batch (would not fit, model failed to load, shape mismatch); the dispatcher requeues or rejects. */
export interface BatchRefused {
  type: 'BatchRefused';
  batchId: string;
  model: string;
  modelVersion: string;
  workerId: string;
  workerEpoch: number;
  reason: string;
  /** False when retrying elsewhere cannot help (the batch itself is wrong): its requests are rejected. */
  retriable: boolean;
  timestampMs: number;
}

export type WorkerReport = BatchDone | BatchRefused;
