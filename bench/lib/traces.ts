/**
 * Synthetic request traces for the batching benchmarks, seeded and deterministic: steady
 * (Poisson), bursty (a two-state Markov-modulated Poisson process: quiet, then bursts at several
 * times the rate), and diurnal (a day of traffic compressed into the trace, rate following a
 * sinusoid from night to peak). Every request has a model, an SLO class and a deadline drawn
 * from its class's range, as a recorded day of mixed traffic would.
 */
import type { InferenceRequest, SloClass } from '../../src/domain/events/request.js';
import { seededRandom, type Random } from '../../src/domain/random.js';

export type TraceShape = 'steady' | 'bursty' | 'diurnal';

export interface ClassMix {
  readonly sloClass: SloClass;
  readonly share: number;
  /** Deadline after arrival, uniform in [min, max] ms. */
  readonly deadlineMs: readonly [number, number];
}

export interface TraceOptions {
  readonly shape: TraceShape;
  /** Mean arrival rate over the trace, requests per second. */
  readonly meanRatePerSec: number;
  readonly durationMs: number;
  readonly seed: number;
  readonly models: ReadonlyArray<{ readonly model: string; readonly share: number }>;
  readonly classes: readonly ClassMix[];
}

const EMPTY = new Uint8Array(0);

/**
 * Rate multiplier over time for each shape; its mean over the trace is 1.
 * Bursty: quiet at 0.5x for an exponential time (mean 1.6 s), then a burst at 3x (mean 0.4 s).
 */
function rateProfile(shape: TraceShape, durationMs: number, random: Random): (tMs: number) => number {
  if (shape === 'steady') return () => 1;
  if (shape === 'diurnal') {
    // Night at 0.3x, peak at 1.7x, one full day across the trace.
    return (t) => 1 - 0.7 * Math.cos((2 * Math.PI * t) / durationMs);
  }
  const switches: number[] = [];
  let t = 0;
  let burst = false;
  while (t < durationMs) {
    t += random.exponential(burst ? 400 : 1600);
    switches.push(t);
    burst = !burst;
  }
  return (time) => {
    let lo = 0;
    let hi = switches.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (switches[mid]! <= time) lo = mid + 1;
      else hi = mid;
    }
    return lo % 2 === 1 ? 3 : 0.5;
  };
}

function pickWeighted<T extends { share: number }>(items: readonly T[], random: Random): T {
  const total = items.reduce((s, i) => s + i.share, 0);
  let u = random.next() * total;
  for (const item of items) {
    u -= item.share;
    if (u <= 0) return item;
  }
  return items[items.length - 1]!;
}

/** Arrivals by thinning a Poisson process at the peak rate, sorted by time. */
export function generateTrace(options: TraceOptions): InferenceRequest[] {
  const random = seededRandom(options.seed);
  const profile = rateProfile(options.shape, options.durationMs, random);
  const peak = options.shape === 'steady' ? 1 : options.shape === 'diurnal' ? 1.7 : 3;
  const peakRatePerMs = (options.meanRatePerSec * peak) / 1000;
  const out: InferenceRequest[] = [];
  let t = 0;
  for (;;) {
    t += random.exponential(1 / peakRatePerMs);
    if (t >= options.durationMs) break;
    if (random.next() * peak > profile(t)) continue;
    const model = pickWeighted(options.models, random).model;
    const cls = pickWeighted(options.classes, random);
    const [lo, hi] = cls.deadlineMs;
    out.push({
      requestId: `r${out.length}`,
      model,
      modelVersion: '',
      tenant: `tenant-${random.int(0, 7)}`,
      sloClass: cls.sloClass,
      deadlineMs: t + lo + random.next() * (hi - lo),
      submittedAtMs: t,
      replyTo: 'inference.results',
      traceparent: '',
      tensor: EMPTY,
    });
  }
  return out;
}

/** The same trace with every arrival rate multiplied by `scale` (times divided, deadlines kept relative). */
export function scaleTrace(trace: readonly InferenceRequest[], scale: number): InferenceRequest[] {
  return trace.map((r) => {
    const t = r.submittedAtMs / scale;
    return { ...r, submittedAtMs: t, deadlineMs: t + (r.deadlineMs - r.submittedAtMs) };
  });
}
