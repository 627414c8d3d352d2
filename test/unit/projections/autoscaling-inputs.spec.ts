import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ProjectedEvent } from '../../../src/projections/events.js';
import { PROJECTIONS } from '../../../src/projections/index.js';
import { loadProjection, type ArrivalsDoc, type ServiceDoc } from '../../../src/projections/load.js';
import { metricFamilies } from '../../../src/projections/metrics.js';
import { fold, type Docs } from '../../../src/projections/projection.js';
import { addToBuckets, sumSince, type Buckets } from '../../../src/projections/time-buckets.js';
import { batchFormed, heartbeat } from './events.js';

const T0 = 1_767_225_600_000;
const spec = { bucketMs: 1_000, keep: 5 };

const arrival = (i: number, atMs: number, sloClass: 'realtime' | 'batch' = 'realtime', deadlineMs = 200): ProjectedEvent => ({
  kind: 'request',
  value: { requestId: `a${i}`, model: 'm0', modelVersion: '', tenant: 'acme', sloClass, deadlineMs: atMs + deadlineMs, submittedAtMs: atMs, replyTo: 'inference.results', traceparent: '' },
});
const done = (i: number, atMs: number, batchSize: number, serviceTimeUs: number): ProjectedEvent => ({
  kind: 'report',
  value: { type: 'BatchDone', batchId: `b${i}`, model: 'm0', modelVersion: '1', workerId: 'w0', workerEpoch: 1, deviceUuid: 'GPU-0', batchSize, serviceTimeUs, transferUs: 0, computeUs: 0, timestampMs: atMs },
});

describe('event-time buckets', () => {
  it('keep the newest buckets whatever the order of the events', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 40 }).chain((ts) => fc.tuple(fc.constant(ts), fc.shuffledSubarray(ts, { minLength: ts.length, maxLength: ts.length }))), ([ts, shuffled]) => {
        const fill = (list: number[]) => list.reduce<Buckets>((b, t) => addToBuckets(b, T0 + t, [1], spec), {});
        const a = fill(ts);
        expect(JSON.stringify(fill(shuffled))).toBe(JSON.stringify(a));
        // Exactly the events within `keep` buckets of the newest are counted.
        const newest = Math.max(...ts.map((t) => Math.floor((T0 + t) / 1000)));
        const expected = ts.filter((t) => Math.floor((T0 + t) / 1000) > newest - spec.keep).length;
        expect(Object.values(a).reduce((n, [c]) => n + c!, 0)).toBe(expected);
        expect(Object.keys(a).map(Number)).toEqual([...Object.keys(a).map(Number)].sort((x, y) => x - y));
      }),
    );
  });

  it('sum a window ending now, over the time since traffic began when that is shorter', () => {
    const b = [0, 100, 1_100, 3_500].reduce<Buckets>((acc, t) => addToBuckets(acc, T0 + t, [1], spec), {});
    expect(sumSince(b, T0 + 4_000, 10_000, spec, 1)).toEqual({ sums: [4], spanMs: 4_000 });
    expect(sumSince(b, T0 + 4_000, 2_000, spec, 1)).toEqual({ sums: [1], spanMs: 2_000 });
    expect(sumSince(b, T0 + 60_000, 2_000, spec, 1)).toEqual({ sums: [0], spanMs: 2_000 });
  });
});

describe('autoscaling inputs and the desired-workers gauge', () => {
  // 40 requests/s of the realtime class over 10 s, 200 ms deadline; batches of 8 take 40 ms of slot time (5 ms a request).
  // Heartbeats report free slots plus busy ones: 2 + 0 each.
  const events: ProjectedEvent[] = [
    ...Array.from({ length: 400 }, (_, i) => arrival(i, T0 + i * 25)),
    ...Array.from({ length: 50 }, (_, i) => done(i, T0 + i * 200, 8, 40_000)),
    // Two live workers of 2 slots each.
    heartbeat(0, 1, T0 + 9_900, 0), heartbeat(1, 1, T0 + 9_950, 0),
  ];
  const states = new Map<string, Docs>(PROJECTIONS.map((p) => [p.name, fold(p, events)]));

  it('folds arrivals per model and class and slot time per request', () => {
    const state = fold(loadProjection, events);
    const arrivals = state.get('arrivals/m0/realtime') as ArrivalsDoc;
    expect(arrivals.requests).toBe(400);
    expect(arrivals.deadlineMsTotal / arrivals.requests).toBe(200);
    const service = state.get('service/m0') as ServiceDoc;
    expect(service.busyUs / service.requests).toBe(5_000);
  });

  it('exports gpuflow_desired_workers per model and class from λ, S, Q and the deadline', () => {
    const families = metricFamilies(states, T0 + 10_000);
    const rate = families.find((f) => f.name === 'gpuflow_arrival_rate')!.samples;
    expect(rate).toHaveLength(1);
    expect(rate[0]!.value).toBeCloseTo(40, 5);
    const desired = families.find((f) => f.name === 'gpuflow_desired_workers')!;
    expect(desired.type).toBe('gauge');
    // λ·S = 40 × 0.005 = 0.2 busy slots; 2 slots at 70 %: one worker. All 400 wait (none batched):
    // 400 × 0.005 / (2 × 0.2 s) = 5 more.
    expect(desired.samples).toEqual([{ labels: { model: 'm0', class: 'realtime' }, value: 6 }]);
    // Once they are batched, only the steady load remains.
    const batched = [...events, ...Array.from({ length: 100 }, (_, i) => batchFormed([4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3].map((x) => x)))];
    const renamed = batched.map((e) => (e.kind === 'decision' && e.value.type === 'BatchFormed' ? { ...e, value: { ...e.value, requestIds: e.value.requestIds.map((id) => id.replace('r', 'a')) } } : e));
    const after = metricFamilies(new Map(PROJECTIONS.map((p) => [p.name, fold(p, renamed)])), T0 + 10_000);
    expect(after.find((f) => f.name === 'gpuflow_desired_workers')!.samples[0]!.value).toBe(1);
    // Ten times the arrivals, none batched yet: 2 busy slots over 2 × 2 slots at 70 % (1.43 workers),
    // plus 3,600 waiting × 5 ms over 2 slots within 200 ms (45): 47.
    const busy = [...renamed, ...Array.from({ length: 3_600 }, (_, i) => arrival(10_000 + i, T0 + (i * 10_000) / 3_600))];
    const later = metricFamilies(new Map(PROJECTIONS.map((p) => [p.name, fold(p, busy)])), T0 + 10_000);
    expect(later.find((f) => f.name === 'gpuflow_arrival_rate')!.samples[0]!.value).toBeCloseTo(400, 5);
    expect(later.find((f) => f.name === 'gpuflow_desired_workers')!.samples[0]!.value).toBe(47);
  });
});
