/**
 * GPU anomalies per device (`device/<uuid>`) from gpu.anomalies: the latest alert (by its
 * timestamp), whether it is active, and how many alerts the device has raised in all.
 */
import type { AnomalyAlert } from '../domain/events/index.js';
import { laterThan, NO_CHANGES, type Doc, type Projection } from './projection.js';

export interface AnomalyDoc extends Doc {
  deviceUuid: string;
  latest: AnomalyAlert;
  active: boolean;
  raised: number;
}

export const anomaliesProjection: Projection<AnomalyDoc> = {
  name: 'anomalies',
  version: 1,
  canHandle: (e) => e.kind === 'anomaly',
  handle(state, e) {
    if (e.kind !== 'anomaly') return NO_CHANGES;
    const a = e.value;
    const id = `device/${a.deviceUuid}`;
    const doc = state.get(id);
    const raised = (doc?.raised ?? 0) + (a.state === 'RAISED' ? 1 : 0);
    const latest = laterThan(a, doc?.latest) ? a : doc!.latest;
    return { [id]: { deviceUuid: a.deviceUuid, latest, active: latest.state === 'RAISED', raised } };
  },
};
