/** Small event builders for the projection specs: each event's content is a function of its arguments. */
import { isRetirement } from '../../../src/domain/events/manifest.js';
import type { ProjectedEvent } from '../../../src/projections/events.js';

const CLASSES = ['realtime', 'interactive', 'batch'] as const;
const TENANTS = ['acme', 'globex'] as const;
const model = (i: number): string => `m${i % 2}`;

export const request = (i: number, submittedAtMs = i): ProjectedEvent => ({
  kind: 'request',
  value: { requestId: `r${i}`, model: 'm0', modelVersion: '', tenant: TENANTS[i % 2]!, sloClass: CLASSES[i % 3]!, deadlineMs: 1000 + i, submittedAtMs, replyTo: 'inference.results', traceparent: '' },
});

export const result = (i: number, status: 'OK' | 'REJECTED' | 'FAILED', t: number, tenant: string = TENANTS[i % 2]!, sloClass: string = CLASSES[i % 3]!): ProjectedEvent => ({
  kind: 'result',
  value: {
    requestId: `r${i}`, tenant, model: 'm0', modelVersion: '1', sloClass, status, reason: status === 'OK' ? '' : 'no',
    batchId: `b${i}`, workerId: 'w0', workerEpoch: 1, latency: { queueUs: 100 * i, batchUs: 10, transferUs: 5, computeUs: 50 + t },
    deadlineMs: 40, completedAtMs: t, simulated: true,
  },
});

export const sample = (d: number, t: number, util = 0): ProjectedEvent => ({
  kind: 'telemetry',
  value: {
    deviceUuid: `GPU-${d}`, deviceIndex: d, deviceName: 'H100 (simulated)', pciBusId: `0000:0${d}:00.0`, node: 'n1', timestampMs: t,
    memTotalBytes: 80 * 2 ** 30, memUsedBytes: (t % 80) * 2 ** 30, memFreeBytes: (80 - (t % 80)) * 2 ** 30, gpuUtil: util, memUtil: 1, temperatureC: 40 + (t % 50),
    powerW: 100 + (t % 300), smClockMhz: 1500, memClockMhz: 2000, eccErrors: 0, simulated: true,
  },
});

export const heartbeat = (w: number, epoch: number, t: number, load = 0): ProjectedEvent => ({
  kind: 'heartbeat',
  value: { workerId: `w${w}`, epoch, node: 'n1', timestampMs: t, devices: [{ uuid: `GPU-${w}`, index: 0, name: 'H100', memTotalBytes: 1, pciBusId: 'x', simulated: true }], loadedModels: ['m0'], inFlightBatches: load, capacity: 2 },
});

export const alert = (d: number, raised: boolean, t: number): ProjectedEvent => ({
  kind: 'anomaly',
  value: { deviceUuid: `GPU-${d}`, state: raised ? 'RAISED' : 'CLEARED', kind: 'OOM_RISK', lofScore: 1 + (t % 100) / 10, predictedTimeToOomMs: raised ? 1000 * (t % 1000) : null, memUsedFraction: 0.5, timestampMs: t, reason: 'trend' },
});

export const batchFormed = (ids: number[], atMs = 1): ProjectedEvent => ({
  kind: 'decision',
  value: { type: 'BatchFormed', batchId: `b-${ids.join('-')}`, model: 'm0', modelVersion: '1', requestIds: ids.map((i) => `r${i}`), reason: ids.length > 2 ? 'FULL' : 'MAX_DELAY', atMs, inputs: [] },
});

export const rejected = (i: number, atMs = 1): ProjectedEvent => ({
  kind: 'decision',
  value: { type: 'RequestRejected', requestId: `r${i}`, model: 'm0', tenant: TENANTS[i % 2]!, reason: 'queue full', leavesBatch: false, atMs, inputs: [] },
});

export const evicted = (w: number, epoch: number): ProjectedEvent => ({
  kind: 'decision',
  value: { type: 'WorkerEvicted', workerId: `w${w}`, workerEpoch: epoch, reason: 'silent', atMs: 1, inputs: [] },
});

export const joined = (w: number, epoch: number): ProjectedEvent => ({
  kind: 'decision',
  value: { type: 'WorkerJoined', workerId: `w${w}`, workerEpoch: epoch, deviceUuids: [`GPU-${w}`], atMs: 1, inputs: [] },
});

export const batchDone = (m: number, n: number): ProjectedEvent => ({
  kind: 'report',
  value: { type: 'BatchDone', batchId: `b${n}`, model: model(m), modelVersion: '1', workerId: 'w0', workerEpoch: 1, deviceUuid: 'GPU-0', batchSize: n, serviceTimeUs: 10, transferUs: 1, computeUs: 5, timestampMs: n },
});

/** Model m retired: its tombstone on models.manifests. */
export const retired = (m: number, offset: number): ProjectedEvent => ({ kind: 'manifest', value: { type: 'ModelRetired', model: `m${m}` }, offset: String(offset) });

export const manifest = (m: number, version: string, offset: number): ProjectedEvent => ({
  kind: 'manifest',
  value: {
    model: `m${m}`, version, executor: 'simulated', weightsUri: `m${m}-${version}.safetensors`, inputShape: [64], dtype: 'FP32',
    memoryPerSampleBytes: 1536, maxBatchSize: 64, preferredBatchSizes: [8, 16], maxQueueDelayMs: 5, commit: '',
  },
  offset: String(offset),
});

/**
 * A deterministic mix over every projected topic, about 3.5 events per request: requests,
 * their batches or rejections, results, worker reports, telemetry, heartbeats and alerts.
 * `nowMs` anchors heartbeats and telemetry so that workers read as live.
 */
export function traffic(requests: number, nowMs: number): ProjectedEvent[] {
  const out: ProjectedEvent[] = [manifest(0, '1', 0), manifest(1, '1', 1)];
  for (let i = 0; i < requests; i++) {
    out.push(request(i));
    if (i % 4 === 3) out.push(batchFormed([i - 3, i - 2, i - 1, i].filter((x) => x % 10 !== 9)));
    if (i % 10 === 9) out.push(rejected(i), result(i, 'REJECTED', i));
    else if (i % 50 === 7) out.push(result(i, 'FAILED', i));
    else out.push(result(i, 'OK', i));
    if (i % 4 === 3) out.push(batchDone(i % 2, 4));
    if (i % 20 === 0) out.push(sample(i % 3, nowMs + i), heartbeat(i % 2, 1, nowMs + i));
    if (i % 100 === 50) out.push(alert(i % 3, (i / 100) % 2 < 1, nowMs + i));
  }
  out.push(alert(0, true, nowMs + requests), joined(0, 1), joined(1, 1), manifest(0, '2', 2), retired(1, 3));
  return out;
}

/** The event as its topic carries it (tensors and outputs empty: no read model looks at them). */
export function wireValue(e: ProjectedEvent): { key: string; value: unknown } {
  switch (e.kind) {
    case 'request':
      return { key: e.value.model, value: { ...e.value, tensor: new Uint8Array(0) } };
    case 'result':
      return { key: e.value.tenant, value: { ...e.value, output: new Uint8Array(0) } };
    case 'shadow':
      return { key: e.value.tenant, value: e.value };
    case 'telemetry':
    case 'anomaly':
      return { key: e.value.deviceUuid, value: e.value };
    case 'heartbeat':
      return { key: e.value.workerId, value: e.value };
    case 'decision':
      return { key: 'model' in e.value ? e.value.model : e.value.workerId, value: e.value };
    case 'report':
      return { key: e.value.model, value: e.value };
    case 'manifest':
      // A retirement is a tombstone: the model's key without a value.
      return { key: e.value.model, value: isRetirement(e.value) ? null : e.value };
  }
}
