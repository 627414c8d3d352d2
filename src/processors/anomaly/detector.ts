/**
 * The out-of-memory detector of one device, as a decider. Each telemetry sample is scored two ways:
 *
 * - LOF (novelty mode) against a sliding window of the device's own readings from the recent past (the
 *   last `lagSamples` held back): is this state new for this device? A sawtooth that climbs to 90% every
 *   minute is familiar; a leak climbing past anything seen before it started is not.
 * - A time-to-OOM forecast from the memory trend, over a short window (fast leaks, allocation steps)
 *   and a long one (slow leaks, a pool ratcheting up).
 *
 * A fast rise raises an alert only when the state is also novel (LOF at or above `lofThreshold`; on a
 * device too new to have a LOF window, a new memory high within the shorter `coldHorizonMs`); a slow,
 * steady rise raises one on the long forecast alone, since a slow drift becomes the window's norm.
 * Either must hold for `confirmSamples` consecutive samples. The alert clears after `clearSamples`
 * consecutive samples on which neither path holds even at twice its horizon (hysteresis, so it does
 * not flap).
 *
 * Every sample yields a `SampleScored` event (what the decision saw, so replay needs nothing else);
 * `AlertRaised` / `AlertCleared` carry the AnomalyAlert published on gpu.anomalies.
 */
import type { Decider } from '../../domain/decider.js';
import type { AnomalyAlert, GpuSample } from '../../domain/events/index.js';
import { DEFAULT_FEATURE_SCALES, featuresOf, memUsedFraction, type FeatureScales } from './features.js';
import { emptyLofWindow, insertPoint, scoreAgainstWindow, windowSize, type LofWindow } from './lof-window.js';
import { forecastOom, type MemoryPoint, type OomForecast } from './oom-forecast.js';

export interface DetectorOptions {
  /** LOF neighbours: 10 of 120 points (scikit-learn defaults to 20 for larger sets). */
  readonly nNeighbors: number;
  /** Points in the LOF window: 120 points one second apart is two minutes of history. */
  readonly windowSamples: number;
  /** Every `strideSamples`-th sample joins the window (2 at 2 Hz: one point a second, half the upkeep). */
  readonly strideSamples: number;
  /**
   * Samples join the LOF window only this many samples late, so that the window is the device's recent
   * past without the last stretch: a rise in progress cannot make itself familiar.
   */
  readonly lagSamples: number;
  /** LOF scores need at least this many points in the window. */
  readonly minWindowSamples: number;
  /** A LOF at or above this marks a state as novel. */
  readonly lofThreshold: number;
  readonly shortTrendMs: number;
  readonly longTrendMs: number;
  /** Fast path: short forecast within this, with a novel state. */
  readonly fastHorizonMs: number;
  /**
   * Before the LOF window is ready (a device just started), the fast path uses this shorter horizon,
   * and a new memory high (above every reading kept) stands in for novelty.
   */
  readonly coldHorizonMs: number;
  /** Slow path: long forecast within this. */
  readonly slowHorizonMs: number;
  readonly shortMinRSquared: number;
  readonly longMinRSquared: number;
  readonly minSlopePerSec: number;
  readonly confirmSamples: number;
  readonly clearSamples: number;
  readonly scales: FeatureScales;
}

export const DEFAULT_DETECTOR_OPTIONS: DetectorOptions = {
  nNeighbors: 10,
  windowSamples: 120,
  strideSamples: 2,
  lagSamples: 120,
  minWindowSamples: 60,
  lofThreshold: 3,
  shortTrendMs: 5_000,
  longTrendMs: 120_000,
  fastHorizonMs: 30_000,
  coldHorizonMs: 15_000,
  slowHorizonMs: 120_000,
  shortMinRSquared: 0.9,
  longMinRSquared: 0.8,
  minSlopePerSec: 1e-4,
  confirmSamples: 3,
  clearSamples: 20,
  scales: DEFAULT_FEATURE_SCALES,
};

export interface DetectorState {
  readonly window: LofWindow;
  /** Features of the latest samples, oldest first, waiting `lagSamples` before joining the window. */
  readonly pending: readonly (readonly number[])[];
  /** Samples seen so far. */
  readonly seen: number;
  /** Memory readings within `longTrendMs` of the latest, oldest first. */
  readonly memory: readonly MemoryPoint[];
  readonly riskStreak: number;
  readonly calmStreak: number;
  /** The alert in force, if any. */
  readonly alert: AnomalyAlert | null;
}

export type DetectorEvent =
  | {
      readonly type: 'SampleScored';
      readonly sample: GpuSample;
      readonly features: readonly number[];
      /** LOF (larger is stranger); null while the window warms up or when the forecast did not ask. */
      readonly lof: number | null;
      readonly short: OomForecast | null;
      readonly long: OomForecast | null;
      readonly risky: boolean;
      readonly calm: boolean;
    }
  | { readonly type: 'AlertRaised'; readonly alert: AnomalyAlert }
  | { readonly type: 'AlertCleared'; readonly alert: AnomalyAlert };

const within = (f: OomForecast | null, horizonMs: number): boolean => f !== null && f.timeToOomMs !== null && f.timeToOomMs <= horizonMs;

/** Forecast over the last `spanMs`; null until the readings cover at least 90% of that span. */
function trend(memory: readonly MemoryPoint[], latestMs: number, spanMs: number, minRSquared: number, o: DetectorOptions): OomForecast | null {
  const from = memory.findIndex((p) => p.tMs > latestMs - spanMs);
  const first = memory[from];
  if (first === undefined || latestMs - first.tMs < 0.9 * spanMs) return null;
  return forecastOom(memory.slice(from), { minPoints: 4, minSlopePerSec: o.minSlopePerSec, minRSquared });
}

/** The nearer of the two forecasts, for the alert. */
/** The nearer of the two forecasts, in whole milliseconds as the alert carries it (an Avro long). */
function leadTime(short: OomForecast | null, long: OomForecast | null): number | null {
  const times = [short?.timeToOomMs, long?.timeToOomMs].filter((t): t is number => typeof t === 'number');
  return times.length === 0 ? null : Math.round(Math.min(...times));
}

export function oomDetector(options: Partial<DetectorOptions> = {}): Decider<DetectorState, GpuSample, DetectorEvent> {
  const o: DetectorOptions = { ...DEFAULT_DETECTOR_OPTIONS, ...options };
  if (!Number.isInteger(o.strideSamples) || o.strideSamples < 1) throw new RangeError(`strideSamples must be a positive integer, got ${o.strideSamples}`);
  if (!Number.isInteger(o.lagSamples) || o.lagSamples < 0) throw new RangeError(`lagSamples must be a non-negative integer, got ${o.lagSamples}`);
  if (o.windowSamples <= o.nNeighbors + 1) throw new RangeError(`windowSamples (${o.windowSamples}) must exceed nNeighbors + 1 (${o.nNeighbors + 1})`);

  return {
    initialState: () => ({ window: emptyLofWindow(o.nNeighbors, o.windowSamples), pending: [], seen: 0, memory: [], riskStreak: 0, calmStreak: 0, alert: null }),

    decide(state, sample, now) {
      const point: MemoryPoint = { tMs: sample.timestampMs, usedFraction: memUsedFraction(sample) };
      const memory = [...state.memory, point];
      const short = trend(memory, point.tMs, o.shortTrendMs, o.shortMinRSquared, o);
      const long = trend(memory, point.tMs, o.longTrendMs, o.longMinRSquared, o);
      const features = featuresOf(sample, short?.slopePerSec ?? 0, o.scales);
      // LOF is asked only when the short forecast raises the question (or an alert needs the score).
      const ready = windowSize(state.window) >= Math.max(2, o.minWindowSamples);
      let lof: number | null = null;
      const lofNow = (): number | null => (lof ??= ready ? -scoreAgainstWindow(state.window, features) : null);
      const newHigh = state.memory.every((p) => p.usedFraction < point.usedFraction);
      // The two paths at a horizon stretched by `stretch`: 1 decides raising, 2 decides calm (hysteresis).
      const fastAt = (stretch: number): boolean =>
        ready
          ? within(short, stretch * o.fastHorizonMs) && (lofNow() ?? 0) >= o.lofThreshold
          : within(short, stretch * o.coldHorizonMs) && newHigh;
      // A long rise that has just been released (a slow sawtooth) is not a leak: memory must not be falling now.
      const slowAt = (stretch: number): boolean => within(long, stretch * o.slowHorizonMs) && short !== null && short.slopePerSec >= 0;
      const fast = fastAt(1);
      const risky = fast || slowAt(1);
      const calm = !fastAt(2) && !slowAt(2);
      const raise = state.alert === null && risky && state.riskStreak + 1 >= o.confirmSamples;
      if (raise) lofNow();
      const scored: DetectorEvent = { type: 'SampleScored', sample, features, lof, short, long, risky, calm };

      const alertOf = (state_: 'RAISED' | 'CLEARED', reason: string): AnomalyAlert => ({
        deviceUuid: sample.deviceUuid,
        state: state_,
        kind: 'OOM_RISK',
        lofScore: lof ?? 1,
        predictedTimeToOomMs: leadTime(short, long),
        memUsedFraction: point.usedFraction,
        timestampMs: now,
        reason,
      });

      if (raise) {
        const why = fast
          ? `memory rising ${(100 * (short as OomForecast).slopePerSec).toFixed(2)}%/s in a state new for this device (LOF ${(lofNow() ?? 0).toFixed(2)})`
          : `memory trend of ${(100 * (long as OomForecast).slopePerSec).toFixed(3)}%/s over ${o.longTrendMs / 1000} s reaches full`;
        return [scored, { type: 'AlertRaised', alert: alertOf('RAISED', why) }];
      }
      if (state.alert !== null && calm && state.calmStreak + 1 >= o.clearSamples) {
        return [scored, { type: 'AlertCleared', alert: alertOf('CLEARED', `no out-of-memory risk for ${o.clearSamples} samples`) }];
      }
      return [scored];
    },

    evolve(state, event) {
      switch (event.type) {
        case 'SampleScored': {
          const t = event.sample.timestampMs;
          const memory = [...state.memory, { tMs: t, usedFraction: memUsedFraction(event.sample) }];
          const from = memory.findIndex((p) => p.tMs > t - o.longTrendMs);
          const pending = [...state.pending, event.features];
          const due = pending.length > o.lagSamples ? (pending.shift() as readonly number[]) : null;
          const joins = due !== null && (state.seen - o.lagSamples) % o.strideSamples === 0;
          return {
            ...state,
            window: joins ? insertPoint(state.window, due) : state.window,
            pending,
            seen: state.seen + 1,
            memory: memory.slice(Math.max(0, from)),
            riskStreak: event.risky ? state.riskStreak + 1 : 0,
            calmStreak: event.calm ? state.calmStreak + 1 : 0,
          };
        }
        case 'AlertRaised':
          return { ...state, alert: event.alert, calmStreak: 0 };
        case 'AlertCleared':
          return { ...state, alert: null, riskStreak: 0 };
      }
    },
  };
}
