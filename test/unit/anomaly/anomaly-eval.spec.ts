import { describe, expect, it } from 'vitest';
import { evaluateTrace, labelRecorded, summarise, thresholdRule } from '../../../bench/lib/anomaly-eval.js';
import type { GpuSample } from '../../../src/domain/events/index.js';
import { generateScenario } from '../../../src/gpu/simulated/telemetry-scenarios.js';

/** A recording as the NVML sampler writes it: 2 Hz, memory allocated in steps to near-full, then freed. */
function recording(): GpuSample[] {
  const total = 80 * 2 ** 30;
  const base = generateScenario({ kind: 'steady', seed: 3, durationMs: 60_000 }).samples;
  return base.map((s, i) => {
    const steps = Math.max(0, Math.min(37, Math.floor((i - 20) / 2)));
    const used = i >= 100 ? 2 ** 30 : 2 ** 30 + steps * 2 * 2 ** 30;
    return { ...s, simulated: false, memTotalBytes: total, memUsedBytes: used, memFreeBytes: total - used };
  });
}

describe('OOM evaluation', () => {
  it('labels a recorded trace: trouble starts at the first rise, the OOM is where memory peaks', () => {
    const samples = recording();
    const [trace] = labelRecorded('alloc-steps.jsonl', samples);
    expect(trace?.id).toBe('alloc-steps');
    expect(trace?.kind).toBe('recorded');
    const t0 = samples[0]!.timestampMs;
    expect(trace?.troubleStartMs).toBe(t0 + 22 * 500);
    expect(trace?.oomAtMs).toBe(t0 + 94 * 500);
  });

  it('splits a recording of several devices and labels a flat one as healthy', () => {
    const a = recording();
    const b = a.map((s) => ({ ...s, deviceUuid: 'GPU-other', memUsedBytes: 2 ** 30, memFreeBytes: s.memTotalBytes - 2 ** 30 }));
    const traces = labelRecorded('two.jsonl', [...a, ...b]);
    expect(traces.map((t) => t.oomAtMs === null)).toEqual([false, true]);
  });

  it('scores the threshold rule: late on a fast leak, and counts alerts outside the trouble as false', () => {
    const leak = generateScenario({ kind: 'leak', seed: 9, durationMs: 0, leakRatePerSec: 0.05 });
    const outcome = evaluateTrace(leak, thresholdRule(0.92, 3));
    expect(outcome.detected).toBe(true);
    // 8% of memory at 5%/s is 1.6 s, less the 1 s that three samples take.
    expect(outcome.leadMs).toBeLessThanOrEqual(1_000);
    const steadyHigh = { ...generateScenario({ kind: 'steady', seed: 1, durationMs: 60_000 }) };
    steadyHigh.samples = steadyHigh.samples.map((s) => ({ ...s, memUsedBytes: 0.95 * s.memTotalBytes }));
    const fa = evaluateTrace(steadyHigh, thresholdRule(0.92, 3));
    expect(fa.falseAlarms).toBe(1);
    const summary = summarise([outcome, fa]);
    expect(summary.recall).toBe(1);
    expect(summary.falseAlarmsPerDeviceHour).toBeCloseTo(1 / (fa.hours + outcome.hours), 6);
  });

  it('counts a missed OOM with zero lead in the median', () => {
    const s = summarise([
      { id: 'a', kind: 'leak', hours: 1, detected: true, leadMs: 10_000, falseAlarms: 0 },
      { id: 'b', kind: 'leak', hours: 1, detected: false, leadMs: null, falseAlarms: 0 },
      { id: 'c', kind: 'leak', hours: 1, detected: false, leadMs: null, falseAlarms: 0 },
    ]);
    expect(s.recall).toBeCloseTo(1 / 3, 12);
    expect(s.medianLeadMs).toBe(0);
  });
});
