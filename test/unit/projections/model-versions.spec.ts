import { describe, expect, it } from 'vitest';
import type { ProjectedEvent } from '../../../src/projections/events.js';
import { PROJECTIONS } from '../../../src/projections/index.js';
import { metricFamilies } from '../../../src/projections/metrics.js';
import { modelVersionsProjection, SPLIT_WINDOW, type ModelVersionsDoc } from '../../../src/projections/model-versions.js';
import { fold } from '../../../src/projections/projection.js';
import { manifest, result } from './events.js';

/** A result of m0 served by `version`, completed at `t`. */
const served = (i: number, version: string, t: number, status: 'OK' | 'FAILED' | 'REJECTED' = 'OK'): ProjectedEvent => {
  const r = result(i, status, t);
  if (r.kind !== 'result') throw new Error('not a result');
  return { kind: 'result', value: { ...r.value, modelVersion: status === 'REJECTED' ? '' : version, completedAtMs: t } };
};

describe('model versions and traffic split', () => {
  it('lists every announced version; the current one is the newest manifest by offset, whatever the read order', () => {
    const events = [manifest(0, '1', 3), manifest(0, '2', 7), manifest(0, '1', 9), manifest(1, '10', 2)];
    for (const order of [events, [...events].reverse(), [events[2]!, events[0]!, events[3]!, events[1]!]]) {
      const state = fold(modelVersionsProjection, order);
      const m0 = state.get('model/m0') as ModelVersionsDoc;
      // A rollback: version 1 announced again after 2 is current again.
      expect(m0.current).toBe('1');
      expect(m0.currentOffset).toBe('9');
      expect(Object.keys(m0.versions)).toEqual(['1', '2']);
      expect(m0.versions['1']!.offset).toBe('9');
      expect((state.get('model/m1') as ModelVersionsDoc).current).toBe('10');
    }
  });

  it('a retirement leaves no version current until a newer manifest, whatever the read order', () => {
    const retired: ProjectedEvent = { kind: 'manifest', value: { type: 'ModelRetired', model: 'm0' }, offset: '8' };
    const events = [manifest(0, '1', 3), manifest(0, '2', 7), retired];
    for (const order of [events, [...events].reverse(), [events[1]!, retired, events[0]!]]) {
      const m0 = fold(modelVersionsProjection, order).get('model/m0') as ModelVersionsDoc;
      expect([m0.current, m0.currentOffset]).toEqual(['', '8']);
      expect(Object.keys(m0.versions)).toEqual(['1', '2']);
      const families = metricFamilies(new Map([[modelVersionsProjection.name, fold(modelVersionsProjection, order)]]), 0);
      expect(families.find((f) => f.name === 'gpuflow_model_version_current')!.samples.map((x) => x.value)).toEqual([0, 0]);
    }
    const back = [...events, manifest(0, '2', 11)];
    for (const order of [back, [...back].reverse()]) expect((fold(modelVersionsProjection, order).get('model/m0') as ModelVersionsDoc).current).toBe('2');
  });

  it('splits the most recent results between the versions that served them', () => {
    // 100 old results on version 1, then a canary: 150 on 1 and 50 on 2 interleaved.
    const old = Array.from({ length: 100 }, (_, i) => served(i, '1', i));
    const rollout = Array.from({ length: 200 }, (_, i) => served(1_000 + i, i % 4 === 0 ? '2' : '1', 1_000 + i));
    const state = fold(modelVersionsProjection, [manifest(0, '2', 5), ...old, ...rollout, served(5_000, '', 2_000, 'REJECTED'), served(5_001, '2', 1_500, 'FAILED')]);
    const doc = state.get('model/m0') as ModelVersionsDoc;
    expect(doc.recent).toHaveLength(SPLIT_WINDOW);
    expect(doc.served).toEqual({ '1': [250, 0], '2': [50, 1] });
    // The window holds the 200 newest: the rollout but its first (a version 2 one), and the failed one of version 2.
    expect(doc.split).toEqual({ '1': 150 / 200, '2': 50 / 200 });
    const families = metricFamilies(new Map(PROJECTIONS.map((p) => [p.name, fold(p, [manifest(0, '1', 1), manifest(0, '2', 5), ...rollout])])), 0);
    expect(families.find((f) => f.name === 'gpuflow_model_version_current')!.samples).toEqual([
      { labels: { model: 'm0', version: '1' }, value: 0 },
      { labels: { model: 'm0', version: '2' }, value: 1 },
    ]);
    expect(families.find((f) => f.name === 'gpuflow_model_traffic_share')!.samples).toEqual([
      { labels: { model: 'm0', version: '1' }, value: 0.75 },
      { labels: { model: 'm0', version: '2' }, value: 0.25 },
    ]);
  });
});
