import type { SchedulerConfig } from './config.js';
import type { ServiceEstimate } from './records.js';
import type { SchedulerView } from './view.js';

/**
 * Where a model version's learned estimate is kept. Per version, as the batcher keeps its queues
 * and timings: a canary may run slower or faster than the version it replaces, and one estimate
 * for both would mispredict each (admission and outstanding work alike).
 */
export function estimateKey(model: string, version: string): string {
  // Looked up for every waiting batch at every decision: the keys are made once per version,
  // not concatenated (and hashed afresh) at each look.
  let byVersion = KEYS.get(model);
  if (byVersion === undefined) KEYS.set(model, (byVersion = new Map()));
  let key = byVersion.get(version);
  if (key === undefined) byVersion.set(version, (key = `${model}@${version}`));
  return key;
}

const KEYS = new Map<string, Map<string, string>>();

/** The estimate to use for a model version: the learned one, else the model's configured prior. */
export function estimateFor(config: SchedulerConfig, view: Pick<SchedulerView, 'estimates'>, model: string, version: string): ServiceEstimate {
  const learned = view.estimates.get(estimateKey(model, version));
  if (learned) return learned;
  const prior = config.serviceTime.models[model] ?? config.serviceTime;
  return { fixedMs: prior.fixedMs, perSampleMs: prior.perSampleMs };
}

/** Predicted service time of a batch, whole microseconds (integers keep device sums exact). */
export function predictUs(estimate: ServiceEstimate, size: number): number {
  return Math.ceil((estimate.fixedMs + estimate.perSampleMs * size) * 1000);
}

/** Moves the per-sample cost towards what a completed batch measured (EWMA). */
export function refineEstimate(estimate: ServiceEstimate, size: number, serviceTimeUs: number, alpha: number): ServiceEstimate {
  if (size <= 0) return estimate;
  const observed = Math.max(0, serviceTimeUs / 1000 - estimate.fixedMs) / size;
  return { fixedMs: estimate.fixedMs, perSampleMs: (1 - alpha) * estimate.perSampleMs + alpha * observed };
}
