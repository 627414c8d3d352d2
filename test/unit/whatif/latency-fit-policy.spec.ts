import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import type { WorkerReport } from '../../../src/domain/events/worker-report.js';
import { fitOne, fitServiceTimes, serviceMs } from '../../../src/whatif/latency-fit.js';
import { parsePolicy } from '../../../src/whatif/policy.js';

const done = (model: string, batchSize: number, serviceMs: number): WorkerReport => ({
  type: 'BatchDone', batchId: 'b', model, modelVersion: '1', workerId: 'w', workerEpoch: 1, deviceUuid: 'g', batchSize, serviceTimeUs: serviceMs * 1000, transferUs: 0, computeUs: 0, timestampMs: 0,
});

describe('fitServiceTimes', () => {
  it('recovers a + b·batch per model from recorded batches', () => {
    const reports = [1, 2, 4, 8, 16].flatMap((n) => [done('a', n, 12.5 + 1.75 * n), done('b', n, 1 + 0.1 * n)]);
    const fits = fitServiceTimes(reports);
    expect(fits.get('a')).toMatchObject({ samples: 5, flat: false });
    expect(fits.get('a')!.interceptMs).toBeCloseTo(12.5, 6);
    expect(fits.get('a')!.perSampleMs).toBeCloseTo(1.75, 6);
    expect(fits.get('a')!.r2).toBeCloseTo(1, 6);
    expect(serviceMs(fits, 'b', 10, fits.get('a')!)).toBeCloseTo(2, 6);
    expect(serviceMs(fits, 'unknown', 10, fits.get('a')!)).toBeCloseTo(30, 6);
  });

  it('falls back to a flat fit where one batch size was recorded, and never goes negative', () => {
    expect(fitOne('m', [[1, 10], [1, 14]])).toMatchObject({ interceptMs: 12, perSampleMs: 0, flat: true });
    expect(fitOne('m', [[1, 10], [8, 2]])).toMatchObject({ perSampleMs: 0, flat: true });
    const f = fitOne('m', [[1, 0.5], [10, 10.1], [20, 20.9]]);
    expect(f.interceptMs).toBe(0);
    expect(f.perSampleMs).toBeGreaterThan(0.9);
  });

  it('ignores refusals', () => {
    expect(fitServiceTimes([{ type: 'BatchRefused', batchId: 'b', model: 'a', modelVersion: '1', workerId: 'w', workerEpoch: 1, reason: 'x', retriable: true, timestampMs: 0 }]).size).toBe(0);
  });
});

describe('parsePolicy', () => {
  it('reads every section', () => {
    const p = parsePolicy(JSON.stringify({ name: 'p', batcher: { headroom: 1.05 }, scheduler: { maxAttempts: 5 }, manifests: { m: { maxQueueDelayMs: 50, maxBatchSize: 32 } }, fleet: { slots: 4, workers: 3 } }), 'p.json');
    expect(p).toEqual({ name: 'p', batcher: { headroom: 1.05 }, scheduler: { maxAttempts: 5 }, manifests: { m: { maxQueueDelayMs: 50, maxBatchSize: 32 } }, fleet: { slots: 4, workers: 3 } });
    expect(parsePolicy('{}', 'empty.json')).toEqual({ name: 'alternative', batcher: {}, scheduler: {}, manifests: {}, fleet: {} });
  });

  it('refuses what cannot work, saying where', () => {
    expect(() => parsePolicy('{', 'bad.json')).toThrow(ConfigError);
    expect(() => parsePolicy('{"batcher":{"maxDelay":3}}', 'p.json')).toThrow(/batcher: unknown field\(s\) maxDelay/);
    expect(() => parsePolicy('{"scheduler":{"maxAttempts":0}}', 'p.json')).toThrow(/maxAttempts must be a positive number/);
    expect(() => parsePolicy('{"manifests":{"m":{"maxBatchSize":0}}}', 'p.json')).toThrow(/manifests.m.maxBatchSize/);
    expect(() => parsePolicy('{"fleet":{"gpus":2}}', 'p.json')).toThrow(/fleet: unknown/);
    expect(() => parsePolicy('{"colour":"red"}', 'p.json')).toThrow(/unknown field/);
  });
});
