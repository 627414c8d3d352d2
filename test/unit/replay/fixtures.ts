/** Small builders of the dispatcher's inputs for replay and what-if tests. */
import type { Heartbeat, InferenceRequest, ModelManifest, SloClass } from '../../../src/domain/events/index.js';

export const MANIFEST: ModelManifest = {
  model: 'm', version: '1', executor: 'simulated', weightsUri: 'm.safetensors', inputShape: [4], dtype: 'FP32',
  memoryPerSampleBytes: 1024, maxBatchSize: 8, preferredBatchSizes: [], maxQueueDelayMs: 5, commit: '',
};

export function request(id: number, atMs: number, sloClass: SloClass = 'batch', deadlineInMs = 2_000): InferenceRequest {
  return {
    requestId: `r${id}`, model: 'm', modelVersion: '', tenant: id % 2 === 0 ? 'acme' : 'globex', sloClass,
    deadlineMs: atMs + deadlineInMs, submittedAtMs: atMs, replyTo: 'inference.results', traceparent: '', tensor: new Uint8Array(0),
  };
}

export function heartbeat(workerId: string, atMs: number, capacity: number, inFlightBatches = 0): Heartbeat {
  return {
    workerId, epoch: 1, node: 'n', timestampMs: atMs, loadedModels: ['m'], inFlightBatches, capacity,
    devices: [{ uuid: `${workerId}-gpu0`, index: 0, name: 'simulated', memTotalBytes: 16 * 2 ** 30, pciBusId: '0', simulated: true }],
  };
}
