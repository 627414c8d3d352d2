import { asyncScheduler, from, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { Decider } from '../../../src/domain/decider.js';
import type { GpuSample } from '../../../src/domain/events/index.js';
import { generateScenario } from '../../../src/gpu/simulated/telemetry-scenarios.js';
import { detectAnomalies } from '../../../src/processors/anomaly/anomaly-operator.js';
import type { DetectorEvent, DetectorState } from '../../../src/processors/anomaly/detector.js';

const sample = (deviceUuid: string, usedFraction: number): GpuSample => ({
  deviceUuid,
  deviceIndex: 0,
  deviceName: 'test',
  pciBusId: '00000000:01:00.0',
  node: 'n',
  timestampMs: 0,
  memTotalBytes: 100,
  memUsedBytes: usedFraction * 100,
  memFreeBytes: 100 - usedFraction * 100,
  gpuUtil: 0,
  memUtil: 0,
  temperatureC: 40,
  powerW: 100,
  smClockMhz: 0,
  memClockMhz: 0,
  eccErrors: 0,
  simulated: true,
});

/** A stand-in detector: raises on a device's second consecutive sample above 90%, clears on one below. */
interface StandInState {
  streak: number;
  raised: boolean;
}
const standIn: Decider<StandInState, GpuSample, DetectorEvent> = {
  initialState: () => ({ streak: 0, raised: false }),
  decide: (state, s, now) => {
    const high = s.memUsedBytes > 90;
    const alert = (st: 'RAISED' | 'CLEARED') => ({
      deviceUuid: s.deviceUuid, state: st, kind: 'OOM_RISK' as const, lofScore: 1, predictedTimeToOomMs: null,
      memUsedFraction: s.memUsedBytes / 100, timestampMs: now, reason: 'stand-in',
    });
    const scored = { type: 'SampleScored', sample: s, features: [], lof: null, short: null, long: null, risky: high, calm: !high } as const;
    if (!state.raised && high && state.streak + 1 >= 2) return [scored, { type: 'AlertRaised', alert: alert('RAISED') }];
    if (state.raised && !high) return [scored, { type: 'AlertCleared', alert: alert('CLEARED') }];
    return [scored];
  },
  evolve: (state, e) => {
    if (e.type === 'SampleScored') return { ...state, streak: e.risky ? state.streak + 1 : 0 };
    return { ...state, raised: e.type === 'AlertRaised' };
  },
};

describe('detectAnomalies', () => {
  it('keeps one state per device and stamps alerts with scheduler time (marbles)', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ cold, expectObservable }) => {
      const values = { a: sample('A', 0.95), b: sample('B', 0.95), l: sample('A', 0.2) };
      // A is high twice (raise at frame 4); B is high once in between, which must not count for A;
      // A then recovers (clear at frame 6).
      const source = cold('a-b-a-l|', values);
      const detector = standIn as unknown as Decider<DetectorState, GpuSample, DetectorEvent>;
      expectObservable(source.pipe(detectAnomalies({ scheduler, detector }))).toBe('----r-c|', {
        r: expect.objectContaining({ deviceUuid: 'A', state: 'RAISED', timestampMs: 4 }),
        c: expect.objectContaining({ deviceUuid: 'A', state: 'CLEARED', timestampMs: 6 }),
      });
    });
  });

  it('runs the real detector per device: the leaking device alerts, the steady one does not', async () => {
    const leak = generateScenario({ kind: 'leak', seed: 41, durationMs: 0, leakRatePerSec: 0.02, afterOomMs: 30_000, deviceIndex: 0 });
    const steady = generateScenario({ kind: 'steady', seed: 42, durationMs: leak.samples.length * 500, deviceIndex: 1 });
    // Interleave the two devices as a sampler reading both would.
    const merged = leak.samples.flatMap((s, i) => [s, steady.samples[i] as GpuSample]);
    const seen: DetectorEvent[] = [];
    const alerts = await lastValueFrom(
      from(merged).pipe(
        detectAnomalies({ scheduler: asyncScheduler, onEvent: (e) => seen.push(e) }),
        toArray(),
      ),
    );
    expect(alerts.map((a) => [a.deviceUuid, a.state])).toEqual([
      [leak.deviceUuid, 'RAISED'],
      [leak.deviceUuid, 'CLEARED'],
    ]);
    expect(seen.filter((e) => e.type === 'SampleScored')).toHaveLength(merged.length);
  });

  it('completes with the source and passes errors on (marbles)', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(({ cold, expectObservable }) => {
      expectObservable(cold<GpuSample>('--|').pipe(detectAnomalies({ scheduler }))).toBe('--|');
      expectObservable(cold<GpuSample>('--#', {}, new Error('broker gone')).pipe(detectAnomalies({ scheduler }))).toBe('--#', {}, new Error('broker gone'));
    });
  });
});
