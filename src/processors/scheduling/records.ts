import type { WorkerTopology } from './topology.js';

/**
 * The rows of the scheduler's state. A decision works on an overlay that replaces rows and
 * never changes the state's, so it leaves the state untouched; `evolve` replaces rows too,
 * except device rows and workers' batch lists, which the state changes in place
 * (SchedulerState.writeDevice, writeWorkerBatch). Rows that go into facts (batches) are
 * never changed in place.
 */

/** One request of a batch, as much as scheduling needs. */
export interface BatchMemberRef {
  requestId: string;
  tenant: string;
  sloClass: string;
  deadlineMs: number;
}

/** A formed batch waiting for a device. */
export interface QueuedBatch {
  batchId: string;
  model: string;
  modelVersion: string;
  memoryPerSampleBytes: number;
  /** GPUs one replica of the model spans (tensor parallel); 1 for most models. */
  gpusPerReplica: number;
  members: BatchMemberRef[];
  /** Placements already tried and lost (worker failure or eviction). */
  attempts: number;
  queuedAtMs: number;
}

/** A batch assigned to a worker and not yet finished. */
export interface InFlightBatch {
  batch: QueuedBatch;
  workerId: string;
  workerEpoch: number;
  deviceUuids: string[];
  /** Bytes reserved on each of its devices. */
  reservedBytes: number;
  /** Predicted service time, µs, counted as outstanding work on each of its devices. */
  predictedUs: number;
  assignedAtMs: number;
}

/** A live worker incarnation. */
export interface WorkerRecord {
  workerId: string;
  epoch: number;
  node: string;
  lastSeenMs: number;
  deviceUuids: string[];
  loadedModels: string[];
  /** Batches the worker runs at once (its heartbeat's in-flight plus spare capacity). */
  slots: number;
  /** Batches assigned to it and not finished, sorted. */
  batchIds: string[];
  topology: WorkerTopology;
}

/** One device of a live worker. Integers only, so sums are exact after any replay. */
export interface DeviceRecord {
  uuid: string;
  workerId: string;
  index: number;
  memTotalBytes: number;
  /** Free bytes from the latest telemetry (the total until the first sample). */
  freeBytes: number;
  telemetryAtMs: number | null;
  reservedBytes: number;
  outstandingUs: number;
}

/** The latest telemetry of a device, kept even before its worker joins. */
export interface DeviceSample {
  freeBytes: number;
  atMs: number;
}

/** Per-model service time estimate. */
export interface ServiceEstimate {
  fixedMs: number;
  perSampleMs: number;
}
