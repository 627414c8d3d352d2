/**
 * The cluster read model: one document per worker (`worker/<id>`: its latest heartbeat, the
 * newest epoch seen, the newest epoch evicted) and one per device (`device/<uuid>`: its latest
 * telemetry and its latest anomaly state), from gpu.heartbeats, gpu.telemetry, gpu.anomalies and
 * the scheduler's WorkerJoined / WorkerEvicted decisions.
 */
import type { AnomalyAlert, GpuSample, Heartbeat } from '../domain/events/index.js';
import type { ProjectedEvent } from './events.js';
import { laterThan, NO_CHANGES, type Doc, type Docs, type Projection } from './projection.js';

export interface WorkerDoc extends Doc {
  workerId: string;
  /** Newest epoch seen in a heartbeat or a WorkerJoined. */
  epoch: number;
  /** Newest epoch the scheduler evicted (0: none); the worker is down when it is >= epoch. */
  evictedEpoch: number;
  evictionReason: string;
  heartbeat: Omit<Heartbeat, 'devices'> & { deviceUuids: string[] } | null;
}

export interface DeviceDoc extends Doc {
  deviceUuid: string;
  sample: GpuSample | null;
  alert: Pick<AnomalyAlert, 'state' | 'kind' | 'timestampMs' | 'reason'> | null;
}

export type ClusterDoc = WorkerDoc | DeviceDoc;

const emptyWorker = (workerId: string): WorkerDoc => ({ workerId, epoch: 0, evictedEpoch: 0, evictionReason: '', heartbeat: null });
const emptyDevice = (deviceUuid: string): DeviceDoc => ({ deviceUuid, sample: null, alert: null });

const newerHeartbeat = (a: { epoch: number; timestampMs: number }, b: { epoch: number; timestampMs: number } | null): boolean =>
  !b || a.epoch > b.epoch || (a.epoch === b.epoch && laterThan(a, b));

export const clusterProjection: Projection<ClusterDoc> = {
  name: 'cluster',
  version: 1,
  canHandle: (e) =>
    e.kind === 'heartbeat' || e.kind === 'telemetry' || e.kind === 'anomaly' || (e.kind === 'decision' && (e.value.type === 'WorkerJoined' || e.value.type === 'WorkerEvicted')),
  handle(state, e) {
    switch (e.kind) {
      case 'heartbeat': {
        const id = `worker/${e.value.workerId}`;
        const doc = worker(state, id, e.value.workerId);
        const { devices, ...rest } = e.value;
        const hb = { ...rest, deviceUuids: devices.map((d) => d.uuid) };
        if (!newerHeartbeat(hb, doc.heartbeat)) return NO_CHANGES;
        return { [id]: { ...doc, epoch: Math.max(doc.epoch, hb.epoch), heartbeat: hb } };
      }
      case 'telemetry': {
        const id = `device/${e.value.deviceUuid}`;
        const doc = device(state, id, e.value.deviceUuid);
        return laterThan(e.value, doc.sample ?? undefined) ? { [id]: { ...doc, sample: e.value } } : NO_CHANGES;
      }
      case 'anomaly': {
        const id = `device/${e.value.deviceUuid}`;
        const doc = device(state, id, e.value.deviceUuid);
        const alert = { state: e.value.state, kind: e.value.kind, timestampMs: e.value.timestampMs, reason: e.value.reason };
        return laterThan(alert, doc.alert ?? undefined) ? { [id]: { ...doc, alert } } : NO_CHANGES;
      }
      case 'decision': {
        const d = e.value;
        if (d.type !== 'WorkerJoined' && d.type !== 'WorkerEvicted') return NO_CHANGES;
        const id = `worker/${d.workerId}`;
        const doc = worker(state, id, d.workerId);
        if (d.type === 'WorkerJoined') return d.workerEpoch > doc.epoch ? { [id]: { ...doc, epoch: d.workerEpoch } } : NO_CHANGES;
        const newer = d.workerEpoch > doc.evictedEpoch || (d.workerEpoch === doc.evictedEpoch && d.reason > doc.evictionReason);
        return newer ? { [id]: { ...doc, evictedEpoch: d.workerEpoch, evictionReason: d.reason } } : NO_CHANGES;
      }
      default:
        return NO_CHANGES;
    }
  },
};

function worker(state: Docs<ClusterDoc>, id: string, workerId: string): WorkerDoc {
  return (state.get(id) as WorkerDoc | undefined) ?? emptyWorker(workerId);
}

function device(state: Docs<ClusterDoc>, id: string, uuid: string): DeviceDoc {
  return (state.get(id) as DeviceDoc | undefined) ?? emptyDevice(uuid);
}

export const isWorkerDoc = (id: string, _doc: ClusterDoc): _doc is WorkerDoc => id.startsWith('worker/');
export const isDeviceDoc = (id: string, _doc: ClusterDoc): _doc is DeviceDoc => id.startsWith('device/');
