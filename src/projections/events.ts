/**
 * What projections read: one tagged union over the topics they follow, so a fold sees every
 * source through one type. The tensor of a request is not part of it: no read model needs it.
 */
import type { AnomalyAlert, GpuSample, Heartbeat, InferenceRequest, InferenceResult, ManifestRecord, SchedulerEvent, WorkerReport } from '../domain/events/index.js';

export type ProjectedRequest = Omit<InferenceRequest, 'tensor'>;
export type ProjectedResult = Omit<InferenceResult, 'output'>;

export type ProjectedEvent =
  | { kind: 'request'; value: ProjectedRequest }
  | { kind: 'result'; value: ProjectedResult }
  /** inference.results.shadow: shadow versions' answers and copies of the clients' answers, outputs kept for comparison. */
  | { kind: 'shadow'; value: InferenceResult }
  | { kind: 'telemetry'; value: GpuSample }
  | { kind: 'heartbeat'; value: Heartbeat }
  | { kind: 'anomaly'; value: AnomalyAlert }
  | { kind: 'decision'; value: SchedulerEvent }
  | { kind: 'report'; value: WorkerReport }
  /**
   * models.manifests is compacted and keyed by model, so a model's manifests share a partition and
   * the newest is the one at the greatest offset: the offset comes with the event. A tombstone
   * comes as the model's retirement.
   */
  | { kind: 'manifest'; value: ManifestRecord; offset: string };

export type ProjectedKind = ProjectedEvent['kind'];

/** The topic each kind is read from (before any deployment prefix), with its Avro schema. */
export const PROJECTED_SOURCES = {
  request: { topic: 'inference.requests', schema: 'inference-request' },
  result: { topic: 'inference.results', schema: 'inference-result' },
  shadow: { topic: 'inference.results.shadow', schema: 'inference-result' },
  telemetry: { topic: 'gpu.telemetry', schema: 'gpu-sample' },
  heartbeat: { topic: 'gpu.heartbeats', schema: 'heartbeat' },
  anomaly: { topic: 'gpu.anomalies', schema: 'anomaly-alert' },
  decision: { topic: 'scheduler.events', schema: 'scheduler-event' },
  report: { topic: 'worker.reports', schema: 'worker-report' },
  manifest: { topic: 'models.manifests', schema: 'model-manifest' },
} as const;

export const PROJECTED_KINDS = Object.keys(PROJECTED_SOURCES) as ProjectedKind[];
