/**
 * Whether a soak's series grow without bound: a least-squares line through the samples taken
 * after the warm-up (simple-statistics), and the limits that turn its slope into a verdict.
 * Pure: samples in, slopes and reasons out.
 */
import { linearRegression, linearRegressionLine, rSquared } from 'simple-statistics';

/** A fitted line; `perMinute` is its slope in the series' unit per minute. */
export interface Trend {
  perMinute: number;
  /** How much of the variation the line explains (0..1); low means the series is flat noise. */
  r2: number;
  points: number;
}

/** Least squares through (seconds, value) points; fewer than 3 points give no trend (slope 0). */
export function fitTrend(points: readonly (readonly [number, number])[]): Trend {
  if (points.length < 3) return { perMinute: 0, r2: 0, points: points.length };
  const data = points.map(([t, y]) => [t, y]);
  const line = linearRegression(data);
  const r2 = rSquared(data, linearRegressionLine(line));
  return { perMinute: line.m * 60, r2: Number.isFinite(r2) ? r2 : 0, points: points.length };
}

/** What counts as growing without bound. */
export interface SoakLimits {
  /** Resident memory of a pipeline process may grow at most this fast after the warm-up, MiB per minute. */
  maxRssSlopeMiBPerMin: number;
  /** A consumer group's lag grows without bound when its slope exceeds this (messages per minute) … */
  maxLagGrowthPerMin: number;
  /** … and it ends the run more than this many messages behind. */
  lagFloor: number;
}

export interface SeriesVerdict {
  name: string;
  trend: Trend;
  last: number;
  ok: boolean;
  /** Why it failed, in words; '' when it passed. */
  reason: string;
}

export function judgeRss(name: string, trend: Trend, lastMiB: number, limits: SoakLimits): SeriesVerdict {
  const ok = trend.perMinute <= limits.maxRssSlopeMiBPerMin;
  const reason = ok ? '' : `RSS of ${name} grows ${trend.perMinute.toFixed(2)} MiB/min after the warm-up (limit ${limits.maxRssSlopeMiBPerMin} MiB/min)`;
  return { name, trend, last: lastMiB, ok, reason };
}

export function judgeLag(name: string, trend: Trend, last: number, limits: SoakLimits): SeriesVerdict {
  const ok = trend.perMinute <= limits.maxLagGrowthPerMin || last <= limits.lagFloor;
  const reason = ok
    ? ''
    : `lag of ${name} grows ${trend.perMinute.toFixed(0)} messages/min (limit ${limits.maxLagGrowthPerMin}) and ends ${last} behind (floor ${limits.lagFloor})`;
  return { name, trend, last, ok, reason };
}
