/** Small event builders for the projection specs: each event's content is a function of its arguments. */
import type { ProjectedEvent } from '../../../src/projections/events.js';

const CLASSES = ['realtime', 'interactive', 'batch'] as const;
const TENANTS = ['acme', 'globex'] as const;
const model = (i: number): string => `m${i % 2}`;

export const request = (i: number): ProjectedEvent => ({
  kind: 'request',
  value: { requestId: `r${i}`, model: 'm0', modelVersion: '', tenant: TENANTS[i % 2]!, sloClass: CLASSES[i % 3]!, deadlineMs: 1000 + i, submittedAtMs: i, replyTo: 'inference.results', traceparent: '' },
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
    memTotalBytes: 80 * 2 ** 30, memUsedBytes: t * 2 ** 30, memFreeBytes: (80 - t) * 2 ** 30, gpuUtil: util, memUtil: 1, temperatureC: 40 + t,
    powerW: 100 + t, smClockMhz: 1500, memClockMhz: 2000, eccErrors: 0, simulated: true,
  },
});

export const heartbeat = (w: number, epoch: number, t: number, load = 0): ProjectedEvent => ({
  kind: 'heartbeat',
  value: { workerId: `w${w}`, epoch, node: 'n1', timestampMs: t, devices: [{ uuid: `GPU-${w}`, index: 0, name: 'H100', memTotalBytes: 1, pciBusId: 'x', simulated: true }], loadedModels: ['m0'], inFlightBatches: load, capacity: 2 },
});

export const alert = (d: number, raised: boolean, t: number): ProjectedEvent => ({
  kind: 'anomaly',
  value: { deviceUuid: `GPU-${d}`, state: raised ? 'RAISED' : 'CLEARED', kind: 'OOM_RISK', lofScore: 1 + t / 10, predictedTimeToOomMs: raised ? 1000 * t : null, memUsedFraction: 0.5, timestampMs: t, reason: 'trend' },
});

export const batchFormed = (ids: number[]): ProjectedEvent => ({
  kind: 'decision',
  value: { type: 'BatchFormed', batchId: `b-${ids.join('-')}`, model: 'm0', modelVersion: '1', requestIds: ids.map((i) => `r${i}`), reason: ids.length > 2 ? 'FULL' : 'MAX_DELAY', atMs: 1, inputs: [] },
});

export const rejected = (i: number): ProjectedEvent => ({
  kind: 'decision',
  value: { type: 'RequestRejected', requestId: `r${i}`, model: 'm0', tenant: TENANTS[i % 2]!, reason: 'queue full', atMs: 1, inputs: [] },
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
