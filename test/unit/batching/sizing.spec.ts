import { describe, expect, it } from 'vitest';
import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { quantile } from 'simple-statistics';
import { createLatencyModel, DEVICE_PROFILES, type LatencySpike } from '../../../src/gpu/simulated/latency-model.js';
import { createBatcher } from '../../../src/processors/batching/batcher.js';
import { batchRequests, type BatcherSourceInput } from '../../../src/processors/batching/batch-operator.js';
import { initialEstimate, observeServiceTime, predictServiceMs } from '../../../src/processors/batching/service-time.js';
import { aimdSizing } from '../../../src/processors/batching/sizing/aimd.js';
import { modelBasedSizing } from '../../../src/processors/batching/sizing/model-based.js';
import { prepared, request } from './helpers.js';

const TARGET_P95_MS = 20;

interface Observed {
  atMs: number;
  size: number;
  serviceMs: number;
}

/**
 * One simulated worker in a closed loop, in virtual time: the queue never runs dry (each formed
 * batch is replaced by as many new requests), so the batch size is the AIMD limit; each batch's
 * service time comes from the latency model (2 ms + 0.25 ms per sample, 5% noise) and is fed back.
 */
function closedLoop(durationMs: number, spikes: LatencySpike[]): Observed[] {
  const observed: Observed[] = [];
  const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
  scheduler.run(() => {
    const latency = createLatencyModel({
      device: DEVICE_PROFILES.H100,
      cost: { fixedMs: 2, perSampleMs: 0.25, optimalBatch: 1024, saturationPenalty: 0 },
      seed: 11,
      noiseCv: 0.05,
      spikes,
    });
    const batcher = createBatcher({ defaults: { sizing: { kind: 'aimd', targetP95Ms: TARGET_P95_MS, window: 20 }, agingMs: Infinity } });
    const initialState = prepared(batcher, { manifest: { maxBatchSize: 256, maxQueueDelayMs: 0 } });
    const input = new Subject<BatcherSourceInput>();
    let n = 0;
    const refill = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const r = request(`r${n++}`, { sloClass: 'batch', deadlineMs: 1e12 });
        input.next({ type: 'RequestArrived', request: r, inputRef: `in:0:${n}` });
      }
    };
    input.pipe(batchRequests({ batcher, scheduler, initialState })).subscribe((out) => {
      if (out.type !== 'BatchFormed') return;
      const size = out.event.requestIds.length;
      const atMs = scheduler.now();
      const serviceMs = latency.sample(size, atMs);
      scheduler.schedule(() => {
        observed.push({ atMs, size, serviceMs });
        input.next({ type: 'BatchObserved', model: 'm', modelVersion: '1', batchSize: size, serviceTimeMs: serviceMs, inputRef: 'res' });
        if (scheduler.now() < durationMs) {
          refill(size);
          input.next({ type: 'CapacityAvailable', slots: 1, inputRef: 'hb' });
        }
      }, serviceMs);
    });
    refill(300);
    input.next({ type: 'CapacityAvailable', slots: 1, inputRef: 'hb' });
  });
  return observed;
}

const p95 = (xs: Observed[]): number => quantile(xs.map((x) => x.serviceMs), 0.95);
const meanSize = (xs: Observed[]): number => xs.reduce((s, x) => s + x.size, 0) / xs.length;
const between = (xs: Observed[], from: number, to: number): Observed[] => xs.filter((x) => x.atMs >= from && x.atMs < to);

describe('AIMD batch sizing (virtual time, closed loop)', () => {
  it('converges to the target p95 service time within 10%', () => {
    const run = closedLoop(20_000, []);
    const settled = between(run, 8_000, 20_000);
    expect(settled.length).toBeGreaterThan(400);
    expect(p95(settled)).toBeGreaterThanOrEqual(TARGET_P95_MS * 0.9);
    expect(p95(settled)).toBeLessThanOrEqual(TARGET_P95_MS * 1.1);
    // Far from the start: it grew from a batch of 1 to the size the target allows (about 66).
    expect(meanSize(settled)).toBeGreaterThan(50);
  });

  it('backs off during a latency spike and recovers its size after it', () => {
    const spike = { fromMs: 16_000, toMs: 21_000, factor: 1.6 };
    const run = closedLoop(36_000, [spike]);
    const before = between(run, 8_000, 16_000);
    const during = between(run, 18_000, 21_000);
    const after = between(run, 27_000, 36_000);
    // During the spike the same sizes would take 60% longer: the limit falls to hold the target.
    expect(meanSize(during)).toBeLessThan(meanSize(before) * 0.8);
    expect(p95(during)).toBeLessThanOrEqual(TARGET_P95_MS * 1.1);
    // After it, the size climbs back and the p95 is on target again.
    expect(meanSize(after)).toBeGreaterThan(meanSize(before) * 0.9);
    expect(p95(after)).toBeGreaterThanOrEqual(TARGET_P95_MS * 0.9);
    expect(p95(after)).toBeLessThanOrEqual(TARGET_P95_MS * 1.1);
  });

  it('adds a step per batch under the target and cuts multiplicatively over it', () => {
    const aimd = aimdSizing({ targetP95Ms: 10, step: 2, decrease: 0.5, window: 4, initial: 8 });
    let s = aimd.initialState(64);
    s = aimd.observe(s, { batchSize: 8, serviceTimeMs: 5 }, 64); // one sample: too few to decide
    expect(s.limit).toBe(8);
    s = aimd.observe(s, { batchSize: 8, serviceTimeMs: 5 }, 64);
    expect(s.limit).toBe(10);
    s = aimd.observe(s, { batchSize: 10, serviceTimeMs: 50 }, 64);
    expect(s).toEqual({ limit: 5, recentMs: [] });
  });
});

describe('model-based batch sizing', () => {
  const estimate = { ...initialEstimate({ fixedMs: 2, perSampleMs: 0.25 }, 16) };
  const sizing = modelBasedSizing();
  const context = { nowMs: 100, maxBatch: 256, estimate, headroom: 1, tightestDeadlineMs: Infinity };

  it('takes the max batch when nothing is urgent', () => {
    expect(sizing.target(null, context)).toBe(256);
  });

  it('takes the largest batch whose predicted completion meets the tightest deadline', () => {
    // 2 + 0.25 n <= 10  =>  n <= 32
    expect(sizing.target(null, { ...context, tightestDeadlineMs: 110 })).toBe(32);
    expect(sizing.target(null, { ...context, tightestDeadlineMs: 101 })).toBe(1);
  });

  it('with the members known, takes the longest prefix that all make their deadlines', () => {
    const deadlines = [150, 150, 111, 200, 200, 200];
    // n = 3 brings the 111 deadline: 2 + 0.75 = 2.75 ms <= 11, fine; all six fit as well.
    expect(sizing.target(null, { ...context, candidateDeadlinesMs: deadlines })).toBe(6);
    // A member due at 103 allows a batch of at most 4 (2 + 1.0 = 3 ms).
    expect(sizing.target(null, { ...context, candidateDeadlinesMs: [150, 150, 150, 103, 200, 200] })).toBe(4);
  });
});

describe('service-time estimate', () => {
  it('recovers a + b·n from measured batches of different sizes', () => {
    let e = initialEstimate({ fixedMs: 10, perSampleMs: 3 }, 32);
    for (const n of [1, 4, 8, 16, 32, 8, 4]) e = observeServiceTime(e, n, 1.5 + 0.2 * n);
    expect(e.fit.fixedMs).toBeCloseTo(1.5, 6);
    expect(e.fit.perSampleMs).toBeCloseTo(0.2, 6);
    expect(predictServiceMs(e, 10)).toBeCloseTo(3.5, 6);
  });

  it('keeps the prior slope and moves the level while all batches had one size', () => {
    let e = initialEstimate({ fixedMs: 10, perSampleMs: 1 }, 8);
    e = observeServiceTime(e, 4, 6);
    e = observeServiceTime(e, 4, 8);
    expect(e.fit).toEqual({ fixedMs: 3, perSampleMs: 1 });
  });

  it('forgets observations older than its window', () => {
    let e = initialEstimate({ fixedMs: 1, perSampleMs: 1 }, 4);
    for (const n of [1, 2, 3, 4]) e = observeServiceTime(e, n, 100 * n);
    for (const n of [1, 2, 3, 4]) e = observeServiceTime(e, n, 1 + n);
    expect(e.fit.fixedMs).toBeCloseTo(1, 6);
    expect(e.fit.perSampleMs).toBeCloseTo(1, 6);
  });
});
