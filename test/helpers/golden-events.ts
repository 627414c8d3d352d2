/** Fixed events whose encodings are committed as golden bytes in test/fixtures/golden/. */
import type { Batch, InferenceRequest, SchedulerEvent } from '../../src/domain/events/index.js';

export const goldenTensorData = new Uint8Array(new Float32Array([0.5, -1, 2.25, 3, 4.5, -6]).buffer);

export const goldenRequest: InferenceRequest = {
  requestId: 'req-0001',
  model: 'resnet50',
  modelVersion: '3',
  tenant: 'acme',
  sloClass: 'interactive',
  deadlineMs: 1_767_225_600_250,
  submittedAtMs: 1_767_225_600_000,
  replyTo: 'inference.results',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tensor: new Uint8Array([1, 2, 3, 4]),
};

export const goldenSchedulerEvent: SchedulerEvent = {
  type: 'BatchAssigned',
  batchId: 'b-42',
  model: 'resnet50',
  workerId: 'worker-a',
  workerEpoch: 7,
  deviceUuid: 'GPU-12345678-abcd-ef01-2345-6789abcdef01',
  reservedBytes: 1_073_741_824,
  atMs: 1_767_225_600_300,
  inputs: ['inference.requests:2:118', 'tick:1767225600300'],
};

export const goldenBatch: Batch = {
  batchId: 'b-42',
  model: 'resnet50',
  modelVersion: '3',
  workerId: 'worker-a',
  workerEpoch: 7,
  deviceUuid: 'GPU-12345678-abcd-ef01-2345-6789abcdef01',
  formedAtMs: 1_767_225_600_300,
  members: [
    { requestId: 'r1', tenant: 'acme', sloClass: 'realtime', deadlineMs: 1_767_225_600_400, submittedAtMs: 1_767_225_600_100, replyTo: 'inference.results', traceparent: '' },
    { requestId: 'r2', tenant: 'globex', sloClass: 'batch', deadlineMs: 1_767_225_605_000, submittedAtMs: 1_767_225_600_200, replyTo: 'inference.results', traceparent: '' },
  ],
  dtype: 'FP32',
  shape: [2, 3],
  data: goldenTensorData,
};
