import { describe, expect, it } from 'vitest';
import { step } from '../../../src/domain/decider.js';
import type { AnomalyAlert, GpuSample } from '../../../src/domain/events/index.js';
import { generateScenario } from '../../../src/gpu/simulated/telemetry-scenarios.js';
import { oomDetector, type DetectorEvent, type DetectorState } from '../../../src/processors/anomaly/detector.js';

/** given(samples) -> the alerts decided, each with the sample it was decided on. */
function run(samples: readonly GpuSample[], options = {}): { alerts: AnomalyAlert[]; events: DetectorEvent[]; state: DetectorState } {
  const decider = oomDetector(options);
  let state = decider.initialState();
  const events: DetectorEvent[] = [];
  for (const s of samples) {
    const r = step(decider, state, s, s.timestampMs);
    state = r.state;
    events.push(...r.events);
  }
  const alerts = events.flatMap((e) => (e.type === 'AlertRaised' || e.type === 'AlertCleared' ? [e.alert] : []));
  return { alerts, events, state };
}

describe('oomDetector (decider)', () => {
  it('given a steady device, decides only scores', () => {
    const trace = generateScenario({ kind: 'steady', seed: 11, durationMs: 15 * 60_000 });
    const { alerts, events } = run(trace.samples);
    expect(alerts).toEqual([]);
    expect(events.every((e) => e.type === 'SampleScored')).toBe(true);
    expect(events).toHaveLength(trace.samples.length);
  });

  it('given a fast leak, raises before the out-of-memory with the forecast lead, then clears once after recovery', () => {
    const trace = generateScenario({ kind: 'leak', seed: 12, durationMs: 0, leakRatePerSec: 0.02, afterOomMs: 60_000 });
    const { alerts } = run(trace.samples);
    expect(alerts.map((a) => a.state)).toEqual(['RAISED', 'CLEARED']);
    const [raised, cleared] = alerts as [AnomalyAlert, AnomalyAlert];
    const oom = trace.oomAtMs as number;
    expect(raised.timestampMs).toBeGreaterThanOrEqual(trace.troubleStartMs as number);
    expect(raised.timestampMs).toBeLessThan(oom - 5_000);
    expect(raised.kind).toBe('OOM_RISK');
    expect(raised.deviceUuid).toBe(trace.deviceUuid);
    // The forecast is the time the line gives to full memory: within a few seconds of the truth.
    expect(Math.abs((raised.predictedTimeToOomMs as number) - (oom - raised.timestampMs))).toBeLessThan(3_000);
    expect(raised.lofScore).toBeGreaterThan(3);
    expect(cleared.timestampMs).toBeGreaterThan(oom);
    expect(cleared.memUsedFraction).toBeLessThan(0.1);
  });

  it('given a slow leak, raises on the long trend well before the out-of-memory', () => {
    const trace = generateScenario({ kind: 'leak', seed: 13, durationMs: 0, leakRatePerSec: 0.001, afterOomMs: 0 });
    const { alerts } = run(trace.samples);
    expect(alerts.filter((a) => a.state === 'RAISED')).toHaveLength(1);
    const lead = (trace.oomAtMs as number) - (alerts[0] as AnomalyAlert).timestampMs;
    expect(lead).toBeGreaterThan(60_000);
    expect((alerts[0] as AnomalyAlert).reason).toMatch(/trend/);
  });

  // History the LOF window needs: 120 samples held back, then 60 points one every 2 samples (2 minutes at 2 Hz).
  const warmUpMs = (120 + 2 * 60) * 500;
  const raisedAfterWarmUp = (alerts: AnomalyAlert[], t0: number) => alerts.filter((a) => a.state === 'RAISED' && a.timestampMs >= t0 + warmUpMs);

  /** Samples after the warm-up on which an alert was in force. */
  function alertedAfterWarmUp(samples: readonly GpuSample[], options = {}): number {
    const decider = oomDetector(options);
    let state = decider.initialState();
    let count = 0;
    for (const s of samples) {
      state = step(decider, state, s, s.timestampMs).state;
      if (state.alert !== null && s.timestampMs >= samples[0]!.timestampMs + warmUpMs) count++;
    }
    return count;
  }

  it('given a healthy sawtooth that climbs towards 90% every cycle, holds no alert once the device has history', () => {
    for (const seed of [21, 22, 23]) {
      const trace = generateScenario({ kind: 'sawtooth', seed, durationMs: 20 * 60_000 });
      expect(Math.max(...trace.samples.map((s) => s.memUsedBytes / s.memTotalBytes))).toBeGreaterThan(0.7);
      expect(raisedAfterWarmUp(run(trace.samples).alerts, trace.samples[0]!.timestampMs)).toEqual([]);
      expect(alertedAfterWarmUp(trace.samples)).toBeLessThan(60);
    }
  });

  it('without the LOF novelty gate, the same sawtooth is under alert most of the time (the gate keeps it quiet)', () => {
    const alerted = [21, 22, 23].map((seed) => alertedAfterWarmUp(generateScenario({ kind: 'sawtooth', seed, durationMs: 20 * 60_000 }).samples, { lofThreshold: 0 }));
    expect(Math.max(...alerted)).toBeGreaterThan(600);
  });

  it('given a device that starts allocating in steps right away (no history yet), raises with lead time', () => {
    // Idle for 4 s, then 2 GiB more every sample on an 80 GiB card until 98% used, held there.
    const base = generateScenario({ kind: 'steady', seed: 15, durationMs: 50_000 }).samples;
    const total = base[0]!.memTotalBytes;
    const samples = base.map((s, i) => {
      const used = Math.min(0.98 * total, 0.004 * total + Math.max(0, i - 8) * 2 * 2 ** 30);
      return { ...s, memUsedBytes: used, memFreeBytes: total - used };
    });
    const full = samples.find((s) => s.memUsedBytes >= 0.98 * total)!.timestampMs;
    const { alerts } = run(samples);
    expect(alerts[0]?.state).toBe('RAISED');
    expect(full - alerts[0]!.timestampMs).toBeGreaterThanOrEqual(5_000);
  });

  it('given short memory bursts on a steady device, raises nothing', () => {
    const trace = generateScenario({ kind: 'burst', seed: 31, durationMs: 30 * 60_000 });
    expect(run(trace.samples).alerts).toEqual([]);
  });

  it('decide does not change the state it is given (evolve returns new states)', () => {
    const trace = generateScenario({ kind: 'leak', seed: 14, durationMs: 0, leakRatePerSec: 0.05, healthyPrefixMs: 120_000 });
    const decider = oomDetector();
    let state = decider.initialState();
    for (const s of trace.samples.slice(0, 300)) state = step(decider, state, s, s.timestampMs).state;
    const next = trace.samples[300] as GpuSample;
    const snapshot = JSON.stringify(state);
    const first = decider.decide(state, next, next.timestampMs);
    step(decider, state, next, next.timestampMs);
    expect(JSON.stringify(state)).toBe(snapshot);
    expect(decider.decide(state, next, next.timestampMs)).toEqual(first);
  });

  it('rejects options that cannot work', () => {
    expect(() => oomDetector({ windowSamples: 5, nNeighbors: 10 })).toThrow(RangeError);
    expect(() => oomDetector({ strideSamples: 0 })).toThrow(RangeError);
    expect(() => oomDetector({ lagSamples: -1 })).toThrow(RangeError);
  });
});
