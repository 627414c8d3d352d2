import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateScenario, type ScenarioKind } from '../../../src/gpu/simulated/telemetry-scenarios.js';

const used = (s: { memUsedBytes: number; memTotalBytes: number }): number => s.memUsedBytes / s.memTotalBytes;
const kinds: ScenarioKind[] = ['steady', 'sawtooth', 'burst', 'leak', 'fragmentation'];

describe('telemetry scenarios', () => {
  it('are pure functions of their spec, sampled at 2 Hz, consistent and marked simulated', () => {
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.integer({ min: 0, max: 2 ** 31 }), (kind, seed) => {
        const spec = { kind, seed, durationMs: 120_000, healthyPrefixMs: 30_000, leakRatePerSec: 0.05 };
        const a = generateScenario(spec);
        expect(generateScenario(spec)).toEqual(a);
        a.samples.forEach((s, i) => {
          expect(s.simulated).toBe(true);
          expect(s.deviceUuid).toBe(a.deviceUuid);
          expect(s.timestampMs - (a.samples[0]?.timestampMs ?? 0)).toBe(i * 500);
          expect(s.memUsedBytes + s.memFreeBytes).toBe(s.memTotalBytes);
          expect(s.memUsedBytes).toBeLessThanOrEqual(s.memTotalBytes);
          expect(s.gpuUtil).toBeGreaterThanOrEqual(0);
          expect(s.gpuUtil).toBeLessThanOrEqual(100);
        });
      }),
      { numRuns: 40 },
    );
  });

  it('labels a leak with the moment memory is exhausted: near full just before, freed just after', () => {
    for (const rate of [0.0005, 0.002, 0.01, 0.05]) {
      const t = generateScenario({ kind: 'leak', seed: 7, durationMs: 0, leakRatePerSec: rate });
      const oom = t.oomAtMs as number;
      const before = t.samples.filter((s) => s.timestampMs < oom).at(-1)!;
      const at = t.samples.find((s) => s.timestampMs === oom)!;
      expect(used(before)).toBeGreaterThan(1 - 2 * rate);
      expect(used(at)).toBeLessThan(0.05);
      expect(t.troubleStartMs).toBe((t.samples[0]?.timestampMs ?? 0) + 300_000);
      // The ramp takes (1 - level) / rate seconds.
      expect((oom - (t.troubleStartMs as number)) / 1000).toBeCloseTo((1 - (t.params.level as number)) / rate, -1);
    }
  });

  it('keeps healthy scenarios healthy: no out-of-memory label, memory below full', () => {
    for (const kind of ['steady', 'sawtooth', 'burst'] as const) {
      for (const seed of [1, 2, 3]) {
        const t = generateScenario({ kind, seed, durationMs: 600_000 });
        expect(t.oomAtMs).toBeNull();
        expect(Math.max(...t.samples.map(used))).toBeLessThan(0.995);
      }
    }
  });

  it('gives a sawtooth repeated allocate/free cycles and fragmentation a rising staircase ending in out-of-memory', () => {
    const saw = generateScenario({ kind: 'sawtooth', seed: 5, durationMs: 600_000 });
    const drops = saw.samples.filter((s, i) => i > 0 && used(s) < used(saw.samples[i - 1]!) - 0.1).length;
    expect(drops).toBeGreaterThan(600 / (saw.params.periodMs as number / 1000) - 2);
    const frag = generateScenario({ kind: 'fragmentation', seed: 5, durationMs: 0 });
    expect(frag.oomAtMs).not.toBeNull();
    const levels = frag.samples.filter((s) => s.timestampMs >= (frag.troubleStartMs as number) && s.timestampMs < (frag.oomAtMs as number)).map(used);
    expect(levels.at(-1)! - levels[0]!).toBeGreaterThan(0.2);
  });
});
