/**
 * Prometheus metric families computed from the read models, as plain data: the exporter only
 * formats them. Names and units follow Triton (nv_inference_*, labels model and version) and the
 * DCGM exporter (DCGM_FI_DEV_*, labels gpu, UUID, pci_bus_id, device, modelName, Hostname) so that
 * dashboards built for those work on gpuflow; everything else is gpuflow_*.
 *
 * Counters are the projections' totals, so they survive a projector restart (they are stored
 * with the offsets they include) instead of starting again at zero.
 */
import type { AnomalyDoc } from './anomalies.js';
import type { BatchSizesDoc } from './batch-sizes.js';
import { isDeviceDoc, isWorkerDoc, type ClusterDoc } from './cluster.js';
import { isArrivalsDoc, type LoadDoc } from './load.js';
import type { ModelInferenceDoc } from './model-inference.js';
import type { ModelVersionsDoc } from './model-versions.js';
import type { Doc, Docs } from './projection.js';
import { isDepthDoc, type QueueDoc } from './queues.js';
import { scalingSignals } from './scaling-signal.js';
import { isShadowDivergenceDoc, LATENCY_DELTA_BUCKETS_US, type ShadowDivergenceDoc } from './shadow-divergence.js';
import type { SlaDoc } from './tenant-sla.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricSample {
  /** Defaults to the family's name (histograms use name_bucket, name_sum, name_count). */
  metricName?: string;
  labels: Readonly<Record<string, string | number>>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: MetricSample[];
}

/** Projection name → its documents. */
export type ProjectionStates = ReadonlyMap<string, Docs>;

/** Upper bounds of the batch size histogram. */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256] as const;

const MIB = 1024 * 1024;

function docs<D extends Doc>(states: ProjectionStates, name: string): [string, D][] {
  return [...((states.get(name) as Docs<D> | undefined) ?? new Map<string, D>())].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

const family = (name: string, help: string, type: MetricType, samples: MetricSample[]): MetricFamily => ({ name, help, type, samples });

/**
 * Every family, from the states. `nowMs` only decides liveness (a worker whose last heartbeat is
 * older than `staleAfterMs` is not counted as up).
 */
export function metricFamilies(states: ProjectionStates, nowMs: number, staleAfterMs = 5_000): MetricFamily[] {
  const models = docs<ModelInferenceDoc>(states, 'model-inference').map(([, d]) => d);
  const mv = (d: ModelInferenceDoc) => ({ model: d.model, version: d.version });
  const triton = [
    family('nv_inference_request_success', 'Number of successful inference requests, all batch sizes', 'counter', models.map((d) => ({ labels: mv(d), value: d.success }))),
    family('nv_inference_request_failure', 'Number of failed inference requests (rejected or failed), all batch sizes', 'counter', models.map((d) => ({ labels: mv(d), value: d.failure }))),
    family('nv_inference_count', 'Number of inferences performed (a batch of N counts N)', 'counter', models.map((d) => ({ labels: mv(d), value: d.inferenceCount }))),
    family('nv_inference_exec_count', 'Number of model executions performed (one per batch)', 'counter', models.map((d) => ({ labels: mv(d), value: d.execCount }))),
    family('nv_inference_queue_duration_us', 'Cumulative time successful requests waited before execution, in microseconds', 'counter', models.map((d) => ({ labels: mv(d), value: d.queueUs }))),
    family('nv_inference_compute_infer_duration_us', 'Cumulative compute time of successful requests, in microseconds', 'counter', models.map((d) => ({ labels: mv(d), value: d.computeUs }))),
  ];

  const cluster = docs<ClusterDoc>(states, 'cluster');
  const devices = cluster.flatMap(([id, d]) => (isDeviceDoc(id, d) && d.sample ? [d.sample] : []));
  const dcgmLabels = (s: (typeof devices)[number]) => ({
    gpu: s.deviceIndex, UUID: s.deviceUuid, pci_bus_id: s.pciBusId, device: `nvidia${s.deviceIndex}`, modelName: s.deviceName, Hostname: s.node,
  });
  const dcgm = [
    family('DCGM_FI_DEV_FB_USED', 'Framebuffer memory used (in MiB).', 'gauge', devices.map((s) => ({ labels: dcgmLabels(s), value: Math.round(s.memUsedBytes / MIB) }))),
    family('DCGM_FI_DEV_FB_FREE', 'Framebuffer memory free (in MiB).', 'gauge', devices.map((s) => ({ labels: dcgmLabels(s), value: Math.round(s.memFreeBytes / MIB) }))),
    family('DCGM_FI_DEV_GPU_UTIL', 'GPU utilization (in %).', 'gauge', devices.map((s) => ({ labels: dcgmLabels(s), value: s.gpuUtil }))),
    family('DCGM_FI_DEV_GPU_TEMP', 'GPU temperature (in C).', 'gauge', devices.map((s) => ({ labels: dcgmLabels(s), value: s.temperatureC }))),
    family('DCGM_FI_DEV_POWER_USAGE', 'Power draw (in W).', 'gauge', devices.map((s) => ({ labels: dcgmLabels(s), value: s.powerW }))),
    family('DCGM_FI_DEV_SM_CLOCK', 'SM clock frequency (in MHz).', 'gauge', devices.map((s) => ({ labels: dcgmLabels(s), value: s.smClockMhz }))),
  ];

  const workers = cluster.flatMap(([id, d]) => (isWorkerDoc(id, d) ? [d] : []));
  const workerState = (w: (typeof workers)[number]): 'up' | 'stale' | 'evicted' =>
    w.evictedEpoch >= w.epoch && w.evictedEpoch > 0 ? 'evicted' : w.heartbeat && nowMs - w.heartbeat.timestampMs <= staleAfterMs ? 'up' : 'stale';
  const byState = { up: 0, stale: 0, evicted: 0 };
  for (const w of workers) byState[workerState(w)]++;
  const simulated = devices.filter((s) => s.simulated).length;

  const depth = docs<QueueDoc>(states, 'queues').flatMap(([id, d]) => (isDepthDoc(id, d) ? [d] : []));
  const sla = docs<SlaDoc>(states, 'tenant-sla').map(([, d]) => d);
  const tc = (d: SlaDoc) => ({ tenant: d.tenant, class: d.sloClass });
  const batches = docs<BatchSizesDoc>(states, 'batch-sizes').map(([, d]) => d);
  const anomalies = docs<AnomalyDoc>(states, 'anomalies').map(([, d]) => d);
  const stateOf = <D extends Doc>(name: string): Docs<D> => new Map(docs<D>(states, name));
  const arrivals = docs<LoadDoc>(states, 'load').flatMap(([id, d]) => (isArrivalsDoc(id, d) ? [d] : []));
  const scaling = scalingSignals(stateOf<LoadDoc>('load'), stateOf<QueueDoc>('queues'), stateOf<ClusterDoc>('cluster'), nowMs, staleAfterMs);
  const versions = docs<ModelVersionsDoc>(states, 'model-versions').map(([, d]) => d);
  const shadows = docs<Doc>(states, 'shadow-divergence').flatMap(([id, d]) => (isShadowDivergenceDoc(id, d) ? [d] : []));
  const sv = (d: ShadowDivergenceDoc) => ({ model: d.model, version: d.shadowVersion });

  const gpuflow = [
    family('gpuflow_workers', 'Workers by state: up (heartbeat within the liveness window), stale, evicted', 'gauge',
      (['up', 'stale', 'evicted'] as const).map((state) => ({ labels: { state }, value: byState[state] }))),
    family('gpuflow_devices', 'Devices reporting telemetry, by whether they are simulated', 'gauge', [
      { labels: { simulated: 'true' }, value: simulated },
      { labels: { simulated: 'false' }, value: devices.length - simulated },
    ]),
    family('gpuflow_queue_depth', 'Requests arrived and not yet batched or rejected, per model and SLO class', 'gauge',
      depth.map((d) => ({ labels: { model: d.model, class: d.sloClass }, value: d.waiting }))),
    family('gpuflow_requests_arrived_total', 'Requests read from inference.requests, per model and SLO class', 'counter',
      arrivals.map((d) => ({ labels: { model: d.model, class: d.sloClass }, value: d.requests }))),
    family('gpuflow_batch_size', 'Requests per formed batch', 'histogram', batches.flatMap(batchSizeSamples)),
    family('gpuflow_batches_formed_total', 'Batches formed, per model and the reason the batch closed', 'counter',
      batches.flatMap((d) => Object.entries(d.reasons).sort().map(([reason, n]) => ({ labels: { model: d.model, reason }, value: n })))),
    family('gpuflow_results_total', 'Results per tenant, SLO class and status', 'counter',
      sla.flatMap((d) => [
        { labels: { ...tc(d), status: 'OK' }, value: d.ok },
        { labels: { ...tc(d), status: 'REJECTED' }, value: d.rejected },
        { labels: { ...tc(d), status: 'FAILED' }, value: d.failed },
      ])),
    family('gpuflow_rejections_total', 'Requests rejected, per tenant and SLO class', 'counter', sla.map((d) => ({ labels: tc(d), value: d.rejected }))),
    family('gpuflow_slo_met_total', 'Requests answered OK by their deadline, per tenant and SLO class', 'counter', sla.map((d) => ({ labels: tc(d), value: d.met }))),
    family('gpuflow_slo_attainment_ratio', 'Share of all results answered OK by their deadline, per tenant and SLO class', 'gauge', sla.map((d) => ({ labels: tc(d), value: d.attainment }))),
    family('gpuflow_request_latency_us', 'End-to-end latency percentiles of the recent OK results, per tenant and SLO class, in microseconds', 'gauge',
      sla.flatMap((d) => [
        { labels: { ...tc(d), quantile: '0.5' }, value: d.p50Us },
        { labels: { ...tc(d), quantile: '0.95' }, value: d.p95Us },
        { labels: { ...tc(d), quantile: '0.99' }, value: d.p99Us },
      ])),
    family('gpuflow_anomaly_alert_active', 'Whether the device has an active anomaly alert (1) or not (0)', 'gauge',
      anomalies.map((d) => ({ labels: { UUID: d.deviceUuid, kind: d.latest.kind }, value: d.active ? 1 : 0 }))),
    family('gpuflow_anomaly_alerts_raised_total', 'Anomaly alerts raised, per device', 'counter', anomalies.map((d) => ({ labels: { UUID: d.deviceUuid }, value: d.raised }))),
    family('gpuflow_arrival_rate', 'Requests submitted per second over the last 30 s, per model and SLO class', 'gauge',
      scaling.map((x) => ({ labels: { model: x.model, class: x.sloClass }, value: x.load.arrivalRatePerSec }))),
    family('gpuflow_desired_workers', 'Workers the model\'s SLO class needs: Little\'s law at the target utilisation plus draining the queue within the class deadline', 'gauge',
      scaling.map((x) => ({ labels: { model: x.model, class: x.sloClass }, value: x.desired }))),
    family('gpuflow_model_version_current', 'Version of the newest manifest of each model (1), and the other versions announced (0)', 'gauge',
      versions.flatMap((d) => Object.keys(d.versions).map((version) => ({ labels: { model: d.model, version }, value: version === d.current ? 1 : 0 })))),
    family('gpuflow_model_traffic_share', 'Share of the most recent results each model version served', 'gauge',
      versions.flatMap((d) => Object.entries(d.split).map(([version, share]) => ({ labels: { model: d.model, version }, value: share })))),
    family('gpuflow_anomaly_predicted_time_to_oom_seconds', 'Forecast time to out-of-memory of devices with an active alert that has one', 'gauge',
      anomalies.flatMap((d) => (d.active && d.latest.predictedTimeToOomMs !== null ? [{ labels: { UUID: d.deviceUuid }, value: d.latest.predictedTimeToOomMs / 1000 }] : []))),
    family('gpuflow_shadow_comparisons_total', 'Shadow answers compared with the answer the client got, per model and shadow version', 'counter',
      shadows.map((d) => ({ labels: sv(d), value: d.comparisons }))),
    family('gpuflow_shadow_output_max_abs_diff', 'Largest absolute difference between a shadow output and the client\'s, over every comparison', 'gauge',
      shadows.map((d) => ({ labels: sv(d), value: d.maxAbsDiff }))),
    family('gpuflow_shadow_latency_delta_us', 'Shadow latency minus the client answer\'s, in microseconds', 'histogram', shadows.flatMap(latencyDeltaSamples)),
  ];
  return [...triton, ...dcgm, ...gpuflow];
}

function batchSizeSamples(d: BatchSizesDoc): MetricSample[] {
  const sizes = Object.entries(d.sizes).map(([size, n]) => [Number(size), n] as const);
  const upTo = (le: number) => sizes.reduce((sum, [size, n]) => sum + (size <= le ? n : 0), 0);
  return [
    ...BATCH_SIZE_BUCKETS.map((le) => ({ metricName: 'gpuflow_batch_size_bucket', labels: { model: d.model, le: String(le) }, value: upTo(le) })),
    { metricName: 'gpuflow_batch_size_bucket', labels: { model: d.model, le: '+Inf' }, value: d.batches },
    { metricName: 'gpuflow_batch_size_sum', labels: { model: d.model }, value: d.requests },
    { metricName: 'gpuflow_batch_size_count', labels: { model: d.model }, value: d.batches },
  ];
}

function latencyDeltaSamples(d: ShadowDivergenceDoc): MetricSample[] {
  const labels = { model: d.model, version: d.shadowVersion };
  let cumulative = 0;
  return [
    ...LATENCY_DELTA_BUCKETS_US.map((le, i) => ({ metricName: 'gpuflow_shadow_latency_delta_us_bucket', labels: { ...labels, le: String(le) }, value: (cumulative += d.latencyDeltaBuckets[i] ?? 0) })),
    { metricName: 'gpuflow_shadow_latency_delta_us_bucket', labels: { ...labels, le: '+Inf' }, value: d.comparisons },
    { metricName: 'gpuflow_shadow_latency_delta_us_sum', labels, value: d.latencyDeltaSumUs },
    { metricName: 'gpuflow_shadow_latency_delta_us_count', labels, value: d.comparisons },
  ];
}
