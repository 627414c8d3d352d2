import type { AnomalyAlert } from '../../domain/events/anomaly.js';
import type { GpuSample, Heartbeat } from '../../domain/events/telemetry.js';
import type { BatchMemberRef } from './records.js';
import type { TopologyLink } from './topology.js';

/**
 * What the scheduler reacts to. `inputRef` names where the input came from
 * ('topic:partition:offset', or 'tick:<ms>' for a timer); every decision lists it, so a
 * replay can check it consumed the same inputs in the same order.
 */
export type SchedulerInput =
  | HeartbeatReceived
  | TelemetryReceived
  | AnomalyReceived
  | BatchReady
  | BatchCompletedReceived
  | BatchFailedReceived
  | Tick;

export interface HeartbeatReceived {
  type: 'HeartbeatReceived';
  inputRef: string;
  heartbeat: Heartbeat;
  /** Links between the worker's devices (from NVML); absent or empty: every pair is SYSTEM. */
  topology?: readonly TopologyLink[];
}

export interface TelemetryReceived {
  type: 'TelemetryReceived';
  inputRef: string;
  sample: GpuSample;
}

export interface AnomalyReceived {
  type: 'AnomalyReceived';
  inputRef: string;
  alert: AnomalyAlert;
}

/** A batch the batcher formed, to be placed on a device. */
export interface ReadyBatch {
  batchId: string;
  model: string;
  modelVersion: string;
  memoryPerSampleBytes: number;
  /** GPUs one replica spans; 1 when omitted. */
  gpusPerReplica?: number;
  /**
   * The batch's size is members.length. The scheduler keeps these objects (and the list, when
   * all are admitted) as its own rows and in its facts, without copying them per batch: they
   * must hold only BatchMemberRef's fields and never change afterwards, as the dispatcher's
   * and a replayed journal's do.
   */
  members: BatchMemberRef[];
}

export interface BatchReady {
  type: 'BatchReady';
  inputRef: string;
  batch: ReadyBatch;
}

/** A worker says it finished a batch. */
export interface BatchCompletedReceived {
  type: 'BatchCompleted';
  inputRef: string;
  batchId: string;
  workerId: string;
  workerEpoch: number;
  serviceTimeUs: number;
}

/** A worker says a batch failed (out of memory, executor error). */
export interface BatchFailedReceived {
  type: 'BatchFailed';
  inputRef: string;
  batchId: string;
  workerId: string;
  workerEpoch: number;
  reason: string;
}

/** Logical time passes: liveness and deadlines are checked. */
export interface Tick {
  type: 'Tick';
  inputRef: string;
}
