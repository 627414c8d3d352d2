import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProjectedEvent } from '../../../src/projections/events.js';
import { PROJECTIONS } from '../../../src/projections/index.js';
import { fold, type Doc } from '../../../src/projections/projection.js';
import { queuesProjection, queuesProjectionWith, type DepthDoc, type RequestDoc } from '../../../src/projections/queues.js';
import { SLA_WINDOW, tenantSlaProjection, type SlaDoc } from '../../../src/projections/tenant-sla.js';
import { clusterProjection, type DeviceDoc, type WorkerDoc } from '../../../src/projections/cluster.js';
import { batchSizesProjection, type BatchSizesDoc } from '../../../src/projections/batch-sizes.js';
import { anomaliesProjection, type AnomalyDoc } from '../../../src/projections/anomalies.js';
import { modelInferenceProjection, type ModelInferenceDoc } from '../../../src/projections/model-inference.js';
import { request, result, sample, heartbeat, alert, batchFormed, rejected, evicted, joined, batchDone, manifest } from './events.js';

const arbEvent: fc.Arbitrary<ProjectedEvent> = fc.oneof(
  fc.nat(15).map((i) => request(i)),
  fc.tuple(fc.nat(15), fc.constantFrom('OK', 'REJECTED', 'FAILED' as const), fc.nat(5)).map(([i, s, t]) => result(i, s, t)),
  fc.tuple(fc.nat(2), fc.nat(4), fc.nat(3)).map(([d, t, util]) => sample(d, t, util)),
  fc.tuple(fc.nat(1), fc.nat(3), fc.nat(4), fc.nat(2)).map(([w, e, t, load]) => heartbeat(w, e, t, load)),
  fc.tuple(fc.nat(2), fc.boolean(), fc.nat(4)).map(([d, raised, t]) => alert(d, raised, t)),
  fc.uniqueArray(fc.nat(15), { minLength: 1, maxLength: 4 }).map((ids) => batchFormed(ids)),
  fc.nat(15).map((i) => rejected(i)),
  fc.tuple(fc.nat(1), fc.nat(3)).map(([w, e]) => evicted(w, e)),
  fc.tuple(fc.nat(1), fc.nat(3)).map(([w, e]) => joined(w, e)),
  fc.tuple(fc.nat(1), fc.integer({ min: 1, max: 8 })).map(([m, n]) => batchDone(m, n)),
  fc.tuple(fc.nat(1), fc.constantFrom('1', '2', '10'), fc.nat(3)).map(([m, v, o]) => manifest(m, v, o)),
);

/** The stored form: what a sink writes, key by key. */
const stored = (docs: ReadonlyMap<string, Doc>): Record<string, string> =>
  Object.fromEntries([...docs].map(([id, d]) => [id, JSON.stringify(d)]).sort(([a], [b]) => (a! < b! ? -1 : 1)));

describe('projections', () => {
  it('are confluent: any interleaving of the same events stores the same documents, byte for byte', () => {
    fc.assert(
      fc.property(fc.array(arbEvent, { maxLength: 60 }).chain((events) => fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }))), ([events, shuffled]) => {
        for (const p of PROJECTIONS) expect(stored(fold(p, shuffled))).toEqual(stored(fold(p, events)));
      }),
      { numRuns: 300 },
    );
  });

  it('fold in two halves from the stored state equals one fold (resume after a restart)', () => {
    fc.assert(
      fc.property(fc.array(arbEvent, { maxLength: 60 }), fc.nat(60), (events, cut) => {
        for (const p of PROJECTIONS) {
          const first = fold(p, events.slice(0, cut));
          const reloaded = new Map(Object.entries(stored(first)).map(([id, json]) => [id, JSON.parse(json) as Doc]));
          expect(stored(fold(p, events.slice(cut), reloaded))).toEqual(stored(fold(p, events)));
        }
      }),
    );
  });

  const waiting = (state: ReadonlyMap<string, Doc>): number =>
    [...state].filter(([id]) => id.startsWith('depth/')).reduce((s, [, d]) => s + (d as DepthDoc).waiting, 0);

  it('queues: waiting = arrived and not yet batched or rejected, whichever topic is read first', () => {
    const state = fold(queuesProjection, [batchFormed([1, 2]), request(0), request(1), request(2), request(3), rejected(3), request(4)]);
    expect(waiting(state)).toBe(2); // requests 0 and 4
    expect(state.get('depth/m0/realtime')).toBeDefined();
    expect((state.get('request/r1') as RequestDoc).decidedAtMs).toBe(1);
    // A duplicate request or decision changes nothing.
    expect(stored(fold(queuesProjection, [request(1)], state))).toEqual(stored(state));
    expect(stored(fold(queuesProjection, [batchFormed([1])], state))).toEqual(stored(state));
  });

  // Retention of 20 ms for arrived halves and 30 ms for decided ones, in 5 ms steps of scheduler time.
  const shortQueues = queuesProjectionWith({ arrivedMs: 20, decidedMs: 30, stepMs: 5 });

  it('queues: requests are forgotten behind the scheduler clock, so the state stays bounded', () => {
    const events = Array.from({ length: 1000 }, (_, i) => [request(i, i), batchFormed([i], i + 2)]).flat();
    const state = fold(shortQueues, [...events, request(5000, 999)]);
    expect(state.size).toBeLessThan(40);
    expect(waiting(state)).toBe(1);
    // A request older than the horizon is ignored when it arrives: a late duplicate cannot count as waiting.
    expect(stored(fold(shortQueues, [request(3, 3)], state))).toEqual(stored(state));
    // An undecided request stops counting once the scheduler clock has moved past its horizon.
    expect(waiting(fold(shortQueues, [batchFormed([6000], 1100)], state))).toBe(0);
  });

  it('queues: forgetting is confluent, any interleaving stores the same documents', () => {
    const timed = fc.oneof(
      fc.tuple(fc.nat(15), fc.nat(200)).map(([i, t]) => request(i, t)),
      fc.tuple(fc.uniqueArray(fc.nat(15), { minLength: 1, maxLength: 4 }), fc.nat(200)).map(([ids, t]) => batchFormed(ids, t)),
      fc.tuple(fc.nat(15), fc.nat(200)).map(([i, t]) => rejected(i, t)),
    );
    fc.assert(
      fc.property(fc.array(timed, { maxLength: 80 }).chain((events) => fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }))), ([events, shuffled]) => {
        expect(stored(fold(shortQueues, shuffled))).toEqual(stored(fold(shortQueues, events)));
      }),
      { numRuns: 500 },
    );
  });

  it('tenant SLA: counts by status, attainment, and percentiles over the most recent window', () => {
    const events = Array.from({ length: SLA_WINDOW + 50 }, (_, i) => result(i, 'OK', i));
    const state = fold(tenantSlaProjection, [...events, result(9999, 'REJECTED', 3)]);
    const docs = [...state.values()] as SlaDoc[];
    const all = docs.reduce((s, d) => s + d.total, 0);
    expect(all).toBe(SLA_WINDOW + 51);
    expect(docs.reduce((s, d) => s + d.rejected, 0)).toBe(1);
    for (const d of docs) {
      expect(d.recent.length).toBeLessThanOrEqual(SLA_WINDOW);
      expect(d.p50Us).toBeLessThanOrEqual(d.p95Us);
      expect(d.p95Us).toBeLessThanOrEqual(d.p99Us);
      expect(d.attainment).toBeCloseTo(d.met / d.total);
    }
  });

  it('tenant SLA: a late result older than the window does not displace newer ones', () => {
    const base = Array.from({ length: SLA_WINDOW }, (_, i) => result(i, 'OK', 100 + i, 'acme', 'batch'));
    const state = fold(tenantSlaProjection, [...base, result(5000, 'OK', 1, 'acme', 'batch')]);
    const doc = state.get('tenant/acme/batch') as SlaDoc;
    expect(doc.recent[0]![0]).toBeGreaterThanOrEqual(100);
    expect(doc.total).toBe(SLA_WINDOW + 1);
  });

  it('cluster: latest telemetry by timestamp, eviction of the current epoch marks the worker down', () => {
    const state = fold(clusterProjection, [sample(0, 9), sample(0, 3), heartbeat(0, 2, 5), evicted(0, 2), heartbeat(0, 1, 50)]);
    expect(((state.get('device/GPU-0') as DeviceDoc).sample!.timestampMs)).toBe(9);
    const w = state.get('worker/w0') as WorkerDoc;
    expect(w.epoch).toBe(2);
    expect(w.heartbeat!.epoch).toBe(2);
    expect(w.evictedEpoch).toBe(2);
    const rejoined = fold(clusterProjection, [joined(0, 3)], state).get('worker/w0') as WorkerDoc;
    expect(rejoined.epoch).toBeGreaterThan(rejoined.evictedEpoch);
  });

  it('batch sizes, anomalies and model counters count what they read', () => {
    const b = fold(batchSizesProjection, [batchFormed([1, 2]), batchFormed([3]), batchFormed([4, 5])]).get('model/m0') as BatchSizesDoc;
    expect(b).toMatchObject({ batches: 3, requests: 5, sizes: { '1': 1, '2': 2 } });
    const a = fold(anomaliesProjection, [alert(0, true, 1), alert(0, false, 5), alert(0, true, 3)]).get('device/GPU-0') as AnomalyDoc;
    expect(a).toMatchObject({ active: false, raised: 2 });
    const m = fold(modelInferenceProjection, [result(1, 'OK', 1), result(2, 'FAILED', 1), batchDone(0, 4), batchDone(0, 2)]).get('model/m0/1') as ModelInferenceDoc;
    expect(m).toMatchObject({ success: 1, failure: 1, execCount: 2, inferenceCount: 6 });
  });
});
