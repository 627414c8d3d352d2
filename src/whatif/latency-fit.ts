/**
 * Service time per model fitted from recorded batches: least squares of service time against
 * batch size (service = a + b·batch), the shape of a GPU's cost below saturation. Where every
 * recorded batch had one size the slope cannot be told from the intercept: the fit is then flat
 * (b = 0, a = the mean) and says so.
 */
import { linearRegression, rSquared, linearRegressionLine, mean } from 'simple-statistics';
import type { WorkerReport } from '../domain/events/worker-report.js';

export interface ServiceFit {
  model: string;
  /** a: fixed cost of a batch, ms. */
  interceptMs: number;
  /** b: cost of each sample, ms. */
  perSampleMs: number;
  /** Batches the fit saw. */
  samples: number;
  /** Coefficient of determination; NaN for a flat fit. */
  r2: number;
  /** True when all recorded batches had the same size. */
  flat: boolean;
}

export function fitServiceTimes(reports: readonly WorkerReport[]): Map<string, ServiceFit> {
  const points = new Map<string, [number, number][]>();
  for (const r of reports) {
    if (r.type !== 'BatchDone' || r.batchSize < 1) continue;
    let list = points.get(r.model);
    if (!list) points.set(r.model, (list = []));
    list.push([r.batchSize, r.serviceTimeUs / 1000]);
  }
  const fits = new Map<string, ServiceFit>();
  for (const [model, xy] of points) fits.set(model, fitOne(model, xy));
  return fits;
}

export function fitOne(model: string, xy: readonly [number, number][]): ServiceFit {
  const sizes = new Set(xy.map(([x]) => x));
  const ys = xy.map(([, y]) => y);
  if (sizes.size < 2) return { model, interceptMs: mean(ys), perSampleMs: 0, samples: xy.length, r2: NaN, flat: true };
  const { m, b } = linearRegression(xy as [number, number][]);
  // A negative part is noise, not physics: clamp it and refit the other part to the mean.
  if (m < 0) return { model, interceptMs: mean(ys), perSampleMs: 0, samples: xy.length, r2: NaN, flat: true };
  if (b < 0) {
    const slope = mean(ys) / mean(xy.map(([x]) => x));
    return { model, interceptMs: 0, perSampleMs: slope, samples: xy.length, r2: rSquared(xy as [number, number][], (x) => slope * x), flat: false };
  }
  return { model, interceptMs: b, perSampleMs: m, samples: xy.length, r2: rSquared(xy as [number, number][], linearRegressionLine({ m, b })), flat: false };
}

/** Predicted service time of a batch (ms); models without a fit use `fallback`. */
export function serviceMs(fits: ReadonlyMap<string, ServiceFit>, model: string, batchSize: number, fallback: ServiceFit): number {
  const fit = fits.get(model) ?? fallback;
  return fit.interceptMs + fit.perSampleMs * batchSize;
}
