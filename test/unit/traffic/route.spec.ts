import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ModelManifest } from '../../../src/domain/events/manifest.js';
import { canaryBuckets, requestKey, routedVersions, routeRequest } from '../../../src/processors/traffic/route.js';
import { bucketOf, fnv1a32, TRAFFIC_BUCKETS } from '../../../src/processors/traffic/sticky-hash.js';

const base: ModelManifest = {
  model: 'm', version: '1', executor: 'simulated', weightsUri: 'w1', inputShape: [4], dtype: 'FP32', memoryPerSampleBytes: 16,
  maxBatchSize: 8, preferredBatchSizes: [], maxQueueDelayMs: 5, commit: '', weightsByVersion: { '1': 'w1', '2': 'w2', '3': 'w3' },
};
const canary = (weightPercent: number): ModelManifest => ({ ...base, canaryVersion: '2', canaryWeightPercent: weightPercent });
const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => requestKey({ tenant: `t${i % 7}`, requestId: `req-${i}` }));

/** |observed - n p| within z standard deviations of a binomial(n, p). */
const withinBinomial = (observed: number, n: number, p: number, z = 4): boolean => Math.abs(observed - n * p) <= z * Math.sqrt(n * p * (1 - p));

describe('sticky hash', () => {
  it('is FNV-1a (reference values)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('spreads keys evenly over the buckets', () => {
    const tenths = new Array<number>(10).fill(0);
    for (const k of keys(10_000)) tenths[Math.floor((bucketOf(k) * 10) / TRAFFIC_BUCKETS)]!++;
    for (const n of tenths) expect(withinBinomial(n, 10_000, 0.1)).toBe(true);
  });
});

describe('routeRequest', () => {
  it.each([1, 10, 25, 50])('sends %i%% of 10 000 keys to the canary, within binomial bounds', (weight) => {
    const toCanary = keys(10_000).filter((k) => routeRequest(canary(weight), k, false).canary).length;
    expect(withinBinomial(toCanary, 10_000, weight / 100)).toBe(true);
  });

  it('is sticky: a key meets the same version every time, and a key on the canary stays there as the weight grows', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (key, w1, w2) => {
        const [lo, hi] = w1 <= w2 ? [w1, w2] : [w2, w1];
        expect(routeRequest(canary(lo), key, false)).toEqual(routeRequest(canary(lo), key, false));
        if (routeRequest(canary(lo), key, false).canary) expect(routeRequest(canary(hi), key, false).canary).toBe(true);
      }),
    );
  });

  it('sends everything to stable once the rollout is aborted, or without a canary, or at weight 0', () => {
    for (const k of keys(2_000)) {
      expect(routeRequest(canary(50), k, true)).toEqual({ version: '1', canary: false, shadowVersion: null });
      expect(routeRequest(base, k, false).version).toBe('1');
      expect(routeRequest(canary(0), k, false).version).toBe('1');
    }
    expect(keys(2_000).every((k) => routeRequest(canary(100), k, false).version === '2')).toBe(true);
    expect(canaryBuckets(10)).toBe(1_000);
  });

  it('marks a shadow copy of every request when a shadow version is set, and keeps a version the request names', () => {
    const m = { ...canary(10), shadowVersion: '3' };
    for (const k of keys(500)) expect(routeRequest(m, k, false).shadowVersion).toBe('3');
    expect(routeRequest(m, 'k', false, '7')).toEqual({ version: '7', canary: false, shadowVersion: '3' });
    expect(routedVersions(m)).toEqual(['1', '2', '3']);
    expect(routedVersions(base)).toEqual(['1']);
  });
});
