import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { forecastOom, type MemoryPoint } from '../../../src/processors/anomaly/oom-forecast.js';

const options = { minPoints: 4, minSlopePerSec: 1e-4, minRSquared: 0.5 };
const series = (n: number, f: (tSec: number) => number, t0 = 1_700_000_000_000): MemoryPoint[] =>
  Array.from({ length: n }, (_, i) => ({ tMs: t0 + i * 500, usedFraction: f(i * 0.5) }));

describe('forecastOom', () => {
  it('extrapolates a linear leak to the moment memory is full', () => {
    // 50% used, growing 1% per second: full in 50 s from the start, so 40.5 s after the last point (t = 9.5 s).
    const f = forecastOom(series(20, (t) => 0.5 + 0.01 * t), options);
    expect(f?.slopePerSec).toBeCloseTo(0.01, 12);
    expect(f?.rSquared).toBeCloseTo(1, 12);
    expect(f?.timeToOomMs).toBeCloseTo(40_500, 6);
  });

  it('forecasts nothing for flat, falling or too short series', () => {
    expect(forecastOom(series(20, () => 0.9), options)?.timeToOomMs).toBeNull();
    expect(forecastOom(series(20, (t) => 0.9 - 0.01 * t), options)?.timeToOomMs).toBeNull();
    expect(forecastOom(series(3, (t) => 0.5 + 0.1 * t), options)).toBeNull();
  });

  it('forecasts nothing when a line explains little (a sawtooth)', () => {
    const saw = series(40, (t) => 0.4 + 0.1 * (t % 4));
    const f = forecastOom(saw, options);
    expect(f?.rSquared).toBeLessThan(0.5);
    expect(f?.timeToOomMs).toBeNull();
  });

  it('says zero time left once memory is full and still rising', () => {
    expect(forecastOom(series(10, (t) => 0.95 + 0.02 * t), options)?.timeToOomMs).toBe(0);
  });

  it('forecasts a shorter time for a faster leak from the same level (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.1, max: 0.8, noNaN: true }), fc.double({ min: 1e-3, max: 0.05, noNaN: true }), (level, rate) => {
        const slow = forecastOom(series(20, (t) => level + rate * t), options)?.timeToOomMs;
        const fast = forecastOom(series(20, (t) => level + 2 * rate * t), options)?.timeToOomMs;
        expect(slow).not.toBeNull();
        if ((slow as number) > 0) expect(fast as number).toBeLessThan(slow as number);
        else expect(fast).toBe(0);
      }),
    );
  });
});
