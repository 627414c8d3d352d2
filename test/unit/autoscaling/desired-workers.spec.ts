import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { DEFAULT_SCALING_POLICY, desiredWorkers, type ClassLoad, type ScalingPolicy } from '../../../src/processors/autoscaling/desired-workers.js';

const policy: ScalingPolicy = { slotsPerWorker: 2, targetUtilisation: 0.5, minWorkers: 0, maxWorkers: 100 };
const idle: ClassLoad = { arrivalRatePerSec: 0, serviceTimeSec: 0.01, queueDepth: 0, deadlineSec: 1 };

const arbLoad: fc.Arbitrary<ClassLoad> = fc.record({
  arrivalRatePerSec: fc.double({ min: 0, max: 10_000, noNaN: true }),
  serviceTimeSec: fc.double({ min: 0, max: 1, noNaN: true }),
  queueDepth: fc.nat(100_000),
  deadlineSec: fc.double({ min: 0, max: 60, noNaN: true }),
});

describe('desired workers (Little\'s law with headroom, plus draining the queue)', () => {
  it('follows λ·S / (slots·ρ): 100 req/s of 10 ms on 2 slots at 50 % needs one worker; 101 req/s needs two', () => {
    expect(desiredWorkers({ ...idle, arrivalRatePerSec: 100 }, policy)).toBe(1);
    expect(desiredWorkers({ ...idle, arrivalRatePerSec: 101 }, policy)).toBe(2);
    expect(desiredWorkers({ ...idle, arrivalRatePerSec: 1_000 }, policy)).toBe(10);
    // Float noise does not buy a worker: 0.1 · 30 / (1 · 0.5) is 6, not 7.
    expect(desiredWorkers({ ...idle, arrivalRatePerSec: 30, serviceTimeSec: 0.1 }, { ...policy, slotsPerWorker: 1 })).toBe(6);
  });

  it('adds the capacity that drains the queue within the class deadline', () => {
    // 400 waiting × 10 ms on 2 slots within 1 s: 2 more workers' worth of slot time.
    expect(desiredWorkers({ ...idle, queueDepth: 400 }, policy)).toBe(2);
    expect(desiredWorkers({ ...idle, arrivalRatePerSec: 100, queueDepth: 400 }, policy)).toBe(3);
    // A looser deadline needs less to drain the same queue.
    expect(desiredWorkers({ ...idle, queueDepth: 400, deadlineSec: 20 }, policy)).toBe(1);
  });

  it('no load: the minimum; load before any service time is measured: one worker', () => {
    expect(desiredWorkers(idle, policy)).toBe(0);
    expect(desiredWorkers(idle, { ...policy, minWorkers: 2 })).toBe(2);
    expect(desiredWorkers({ ...idle, serviceTimeSec: 0, arrivalRatePerSec: 50 }, policy)).toBe(1);
    expect(desiredWorkers({ ...idle, arrivalRatePerSec: 1e9 }, policy)).toBe(100);
  });

  it('never falls as arrivals, service time or queue grow, and stays within bounds', () => {
    fc.assert(
      fc.property(arbLoad, fc.double({ min: 0, max: 1_000, noNaN: true }), fc.nat(10_000), (load, moreRate, moreQueue) => {
        const n = desiredWorkers(load, policy);
        expect(n).toBeGreaterThanOrEqual(policy.minWorkers);
        expect(n).toBeLessThanOrEqual(policy.maxWorkers);
        expect(Number.isInteger(n)).toBe(true);
        expect(desiredWorkers({ ...load, arrivalRatePerSec: load.arrivalRatePerSec + moreRate }, policy)).toBeGreaterThanOrEqual(n);
        expect(desiredWorkers({ ...load, queueDepth: load.queueDepth + moreQueue }, policy)).toBeGreaterThanOrEqual(n);
      }),
    );
  });

  it('gives the steady load at most the target utilisation of the slots it asks for', () => {
    fc.assert(
      fc.property(arbLoad, (load) => {
        const n = desiredWorkers({ ...load, queueDepth: 0 }, DEFAULT_SCALING_POLICY);
        const busy = load.arrivalRatePerSec * load.serviceTimeSec;
        if (n < DEFAULT_SCALING_POLICY.maxWorkers && load.serviceTimeSec > 0) expect(busy).toBeLessThanOrEqual(n * DEFAULT_SCALING_POLICY.slotsPerWorker * DEFAULT_SCALING_POLICY.targetUtilisation + 1e-6);
      }),
    );
  });

  it('refuses a policy that makes no sense, with the reason', () => {
    expect(() => desiredWorkers(idle, { ...policy, targetUtilisation: 0 })).toThrow(ConfigError);
    expect(() => desiredWorkers(idle, { ...policy, targetUtilisation: 1.5 })).toThrow(/targetUtilisation/);
    expect(() => desiredWorkers(idle, { ...policy, slotsPerWorker: 0 })).toThrow(/slotsPerWorker/);
    expect(() => desiredWorkers(idle, { ...policy, minWorkers: 5, maxWorkers: 2 })).toThrow(/maxWorkers/);
  });
});
