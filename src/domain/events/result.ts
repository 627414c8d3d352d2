export type ResultStatus = 'OK' | 'REJECTED' | 'FAILED';

/** Where a request's time went, in microseconds (Triton reports the same split). */
export interface LatencyBreakdown {
  queueUs: number;
  batchUs: number;
  transferUs: number;
  computeUs: number;
}

/** What a worker (or the dispatcher, for a rejection) produces to inference.results (key: tenant). */
export interface InferenceResult {
  requestId: string;
  tenant: string;
  model: string;
  modelVersion: string;
  sloClass: string;
  status: ResultStatus;
  /** Why a request was rejected or failed; '' when OK. */
  reason: string;
  batchId: string;
  workerId: string;
  workerEpoch: number;
  /** Output tensor as a FlatBuffers `Tensor`; empty unless OK. */
  output: Uint8Array;
  latency: LatencyBreakdown;
  deadlineMs: number;
  completedAtMs: number;
  /** True when the device that ran it is simulated. */
  simulated: boolean;
}
