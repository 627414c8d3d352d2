import { describe, expect, it } from 'vitest';
import { createLatencyModel, DEVICE_PROFILES, expectedServiceMs, MODEL_COSTS } from '../../../src/gpu/simulated/latency-model.js';

const cost = { fixedMs: 2, perSampleMs: 0.5, optimalBatch: 8, saturationPenalty: 1 };

describe('simulated GPU latency model', () => {
  it('is overhead plus per-sample time, slower per sample past the optimal batch, scaled by device speed', () => {
    expect(expectedServiceMs(DEVICE_PROFILES.H100, cost, 1)).toBe(2.5);
    expect(expectedServiceMs(DEVICE_PROFILES.H100, cost, 8)).toBe(6);
    expect(expectedServiceMs(DEVICE_PROFILES.H100, cost, 10)).toBe(8);
    expect(expectedServiceMs(DEVICE_PROFILES.L4, cost, 8)).toBeCloseTo(30, 9);
    expect(() => expectedServiceMs(DEVICE_PROFILES.H100, cost, 0)).toThrow(RangeError);
  });

  it('draws the same times for the same seed and calls, other times for another seed', () => {
    const draw = (seed: number) => {
      const model = createLatencyModel({ device: DEVICE_PROFILES.A100, cost: MODEL_COSTS['bert-base'], seed });
      return Array.from({ length: 20 }, (_, i) => model.sample(1 + i, i * 10));
    };
    expect(draw(1)).toEqual(draw(1));
    expect(draw(1)).not.toEqual(draw(2));
  });

  it('keeps the mean with noise, and multiplies times inside a spike window', () => {
    const model = createLatencyModel({ device: DEVICE_PROFILES.H100, cost, seed: 3, noiseCv: 0.1, spikes: [{ fromMs: 100, toMs: 200, factor: 3 }] });
    const quiet = Array.from({ length: 4000 }, () => model.sample(8, 0));
    const mean = quiet.reduce((s, x) => s + x, 0) / quiet.length;
    expect(mean).toBeGreaterThan(6 * 0.98);
    expect(mean).toBeLessThan(6 * 1.02);
    const flat = createLatencyModel({ device: DEVICE_PROFILES.H100, cost, seed: 3, noiseCv: 0, spikes: [{ fromMs: 100, toMs: 200, factor: 3 }] });
    expect(flat.sample(8, 150)).toBe(18);
    expect(flat.sample(8, 200)).toBe(6);
  });

  it('slows a random share of batches when random spikes are on', () => {
    const model = createLatencyModel({ device: DEVICE_PROFILES.H100, cost, seed: 9, noiseCv: 0, randomSpikes: { probability: 0.1, factor: 5 } });
    const slow = Array.from({ length: 5000 }, () => model.sample(8, 0)).filter((ms) => ms > 6).length;
    expect(slow / 5000).toBeGreaterThan(0.08);
    expect(slow / 5000).toBeLessThan(0.12);
  });
});
