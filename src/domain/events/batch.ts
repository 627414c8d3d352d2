import type { DType } from './tensor.js';

/** One member of a batch: enough for the worker to answer each request on its own. */
export interface BatchMember {
  requestId: string;
  tenant: string;
  sloClass: string;
  deadlineMs: number;
  submittedAtMs: number;
  replyTo: string;
  traceparent: string;
}

/**
 * inference.batches, key: assigned worker id. Encoded as FlatBuffers (schemas/batch.fbs):
 * the inputs of all members are one contiguous [N, ...shape] buffer, so a worker reads it
 * as a view into the Kafka message and moves it to the GPU with one copy.
 */
export interface Batch {
  batchId: string;
  model: string;
  modelVersion: string;
  workerId: string;
  workerEpoch: number;
  deviceUuid: string;
  formedAtMs: number;
  members: BatchMember[];
  dtype: DType;
  /** Shape of the whole batch, first dimension = members.length. */
  shape: number[];
  data: Uint8Array;
}
