/**
 * Time to out-of-memory from the recent memory trend: a least-squares line through (time, used fraction)
 * over a recent window, extrapolated to the point where the device is full. A trend that does not rise,
 * or whose line explains little of the variation (a sawtooth, a single jump), forecasts nothing.
 */
import { linearRegression, rSquared } from 'simple-statistics';

/** One memory reading: time (epoch ms) and the used fraction of total memory. */
export interface MemoryPoint {
  readonly tMs: number;
  readonly usedFraction: number;
}

export interface OomForecast {
  /** Growth of the used fraction per second (negative when memory is being freed). */
  readonly slopePerSec: number;
  /** How well a straight line explains the window, 0..1. */
  readonly rSquared: number;
  /** Milliseconds until the line reaches full memory from the latest reading; null when it never will. */
  readonly timeToOomMs: number | null;
}

export interface ForecastOptions {
  /** Fewer points than this give no forecast. */
  readonly minPoints: number;
  /** Slopes below this (fraction per second) count as flat: noise on a steady device. */
  readonly minSlopePerSec: number;
  /** Lines that explain less than this share of the variation forecast nothing. */
  readonly minRSquared: number;
}

/** Forecast over `points` (oldest first); null when there are too few to fit a line. */
export function forecastOom(points: readonly MemoryPoint[], options: ForecastOptions): OomForecast | null {
  if (points.length < Math.max(2, options.minPoints)) return null;
  const t0 = (points[0] as MemoryPoint).tMs;
  // Seconds since the first point keep the fit well conditioned (epoch milliseconds would not).
  const data = points.map((p) => [(p.tMs - t0) / 1000, p.usedFraction]);
  const { m, b } = linearRegression(data);
  const fit = rSquared(data, (x: number) => m * x + b);
  const r2 = Number.isFinite(fit) ? fit : 0;
  const latest = (points[points.length - 1] as MemoryPoint).usedFraction;
  const rising = m >= options.minSlopePerSec && r2 >= options.minRSquared;
  const timeToOomMs = rising ? (Math.max(0, 1 - latest) / m) * 1000 : null;
  return { slopePerSec: m, rSquared: r2, timeToOomMs };
}
