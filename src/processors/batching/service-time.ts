/**
 * Predicts how long a batch of n takes on the model's device: service time = a + b·n, fitted by
 * least squares (simple-statistics linearRegression) over a sliding window of measured batches.
 * Until the window holds two distinct batch sizes, the prior's slope is kept and only the level
 * moves to the measurements, so the first observations already correct a wrong prior.
 */
import { linearRegression } from 'simple-statistics';

export interface ServiceTimeFit {
  /** Fixed cost per batch, ms. */
  readonly fixedMs: number;
  /** Cost per sample, ms. */
  readonly perSampleMs: number;
}

export interface ServiceTimeEstimate {
  readonly fit: ServiceTimeFit;
  /** Recent [batchSize, serviceTimeMs] pairs, oldest first. */
  readonly window: ReadonlyArray<readonly [number, number]>;
  readonly windowSize: number;
}

export function initialEstimate(prior: ServiceTimeFit, windowSize: number): ServiceTimeEstimate {
  return { fit: prior, window: [], windowSize };
}

export function observeServiceTime(estimate: ServiceTimeEstimate, batchSize: number, serviceTimeMs: number): ServiceTimeEstimate {
  const window = [...estimate.window, [batchSize, serviceTimeMs] as const].slice(-estimate.windowSize);
  return { ...estimate, window, fit: fitWindow(window, estimate.fit) };
}

/** Mean predicted service time of a batch of `batchSize`, ms. */
export function predictServiceMs(estimate: ServiceTimeEstimate, batchSize: number): number {
  return estimate.fit.fixedMs + estimate.fit.perSampleMs * batchSize;
}

function fitWindow(window: ReadonlyArray<readonly [number, number]>, previous: ServiceTimeFit): ServiceTimeFit {
  const first = window[0];
  if (first === undefined) return previous;
  const distinctSizes = window.some(([n]) => n !== first[0]);
  if (!distinctSizes) {
    const meanMs = window.reduce((sum, [, ms]) => sum + ms, 0) / window.length;
    return { perSampleMs: previous.perSampleMs, fixedMs: Math.max(0, meanMs - previous.perSampleMs * first[0]) };
  }
  const { m, b } = linearRegression(window.map(([n, ms]) => [n, ms]));
  // Noise can tilt a fit through few points below zero; service time never shrinks with batch size.
  const perSampleMs = Math.max(0, m);
  const fixedMs = perSampleMs === m ? Math.max(0, b) : Math.max(0, window.reduce((s, [, ms]) => s + ms, 0) / window.length);
  return { fixedMs, perSampleMs };
}
