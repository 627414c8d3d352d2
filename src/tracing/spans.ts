/**
 * The spans gpuflow records, by name, and the attributes they carry. One request's trace reads:
 *
 *   infer (client, producer)
 *   └─ dispatch (dispatcher, consumer): admitted, queued, until batched or rejected
 *      └─ result (worker, producer): the request's answer, linked to the batch run it came from
 *
 * and each batch has a trace of its own, linked to the dispatch span of every member:
 *
 *   batch (dispatcher, producer): formed, placed, sent to its worker
 *   └─ run batch (worker, consumer)
 *      └─ compute (worker): the model on the device; CUDA event times as attributes on a real GPU
 */
import { SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { describeError } from '../domain/errors.js';

export const SPAN = {
  infer: 'infer',
  dispatch: 'dispatch',
  batch: 'batch',
  runBatch: 'run batch',
  compute: 'compute',
  result: 'result',
} as const;

/** Attribute keys: OpenTelemetry's messaging conventions where they fit, gpuflow.* for the rest. */
export const ATTR = {
  messagingSystem: 'messaging.system',
  destination: 'messaging.destination.name',
  operation: 'messaging.operation.type',
  requestId: 'gpuflow.request.id',
  model: 'gpuflow.model',
  modelVersion: 'gpuflow.model.version',
  tenant: 'gpuflow.tenant',
  sloClass: 'gpuflow.slo_class',
  batchId: 'gpuflow.batch.id',
  batchSize: 'gpuflow.batch.size',
  batchCloseReason: 'gpuflow.batch.close_reason',
  workerId: 'gpuflow.worker.id',
  workerEpoch: 'gpuflow.worker.epoch',
  deviceUuid: 'gpuflow.device.uuid',
  status: 'gpuflow.result.status',
  reason: 'gpuflow.reason',
  computeUs: 'gpuflow.gpu.compute_us',
  transferUs: 'gpuflow.gpu.transfer_us',
  simulated: 'gpuflow.gpu.simulated',
} as const;

/** The tracer of one gpuflow component (its instrumentation scope). */
export const tracerOf = (component: 'client' | 'dispatcher' | 'worker'): Tracer => trace.getTracer(`gpuflow.${component}`);

/** Ends a span as failed, with the error's description. */
export function endWithError(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
  span.end();
}
