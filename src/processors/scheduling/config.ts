import { ConfigError } from '../../domain/errors.js';

/** Predicted service time of one batch: fixed overhead plus a cost per sample. */
export interface ServiceTimePrior {
  fixedMs: number;
  perSampleMs: number;
}

/** The scheduler's tunables. Plain data, so that a snapshot and its replay run with the same. */
export interface SchedulerConfig {
  /** A worker with no heartbeat for this long is evicted and its batches requeued. */
  livenessTimeoutMs: number;
  /** What loading a model onto a device that lacks it costs, counted as extra outstanding work. */
  coldLoadMs: number;
  /** Placements a batch gets (failures and evictions count) before its requests are rejected. */
  maxAttempts: number;
  /** Failed placements tried per input before the rest of the pending queue waits for the next. */
  maxPlacementMisses: number;
  /** Prior service time per model (and for unknown models), refined by completed batches. */
  serviceTime: ServiceTimePrior & { models: Readonly<Record<string, ServiceTimePrior>> };
  /** Weight of the newest completed batch in the per-sample estimate (0 keeps the prior). */
  serviceTimeAlpha: number;
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  livenessTimeoutMs: 5_000,
  coldLoadMs: 3_000,
  maxAttempts: 3,
  maxPlacementMisses: 16,
  serviceTime: { fixedMs: 5, perSampleMs: 1, models: {} },
  serviceTimeAlpha: 0.2,
};

/** Fills defaults and refuses values that cannot work, saying which. */
export function schedulerConfig(overrides: Partial<SchedulerConfig> = {}): SchedulerConfig {
  const config = { ...DEFAULT_SCHEDULER_CONFIG, ...overrides };
  const positive: Array<keyof SchedulerConfig> = ['livenessTimeoutMs', 'maxAttempts', 'maxPlacementMisses'];
  for (const key of positive) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new ConfigError(`scheduler ${key} must be a positive number, got ${String(value)}`);
    }
  }
  if (!(config.coldLoadMs >= 0)) throw new ConfigError(`scheduler coldLoadMs must be >= 0, got ${config.coldLoadMs}`);
  if (!(config.serviceTimeAlpha >= 0 && config.serviceTimeAlpha <= 1)) {
    throw new ConfigError(`scheduler serviceTimeAlpha must be in [0, 1], got ${config.serviceTimeAlpha}`);
  }
  return config;
}
