import type { SchedulerConfig } from './config.js';
import type { ServiceEstimate } from './records.js';

/** The estimate to use for a model: the learned one, else the configured prior. */
export function estimateFor(config: SchedulerConfig, model: string, learned: ServiceEstimate | undefined): ServiceEstimate {
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
