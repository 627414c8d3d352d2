/** When the rollout guard aborts a canary: how far behind stable it may fall, over which window. */
export interface RolloutGuardConfig {
  /** Outcomes older than this (ms, by decision time) leave the window. */
  windowMs: number;
  /** Outcomes each of stable and canary needs in the window before they are compared. */
  minSamples: number;
  /** Largest tolerated canary error rate minus stable error rate (0 to 1). */
  maxErrorRateIncrease: number;
  /** Largest tolerated stable SLO attainment minus canary attainment (0 to 1). */
  maxAttainmentDrop: number;
}

export const DEFAULT_ROLLOUT_GUARD: RolloutGuardConfig = {
  windowMs: 60_000,
  minSamples: 20,
  maxErrorRateIncrease: 0.05,
  maxAttainmentDrop: 0.1,
};

/** The defaults with `overrides` on top. */
export function rolloutGuardConfig(overrides: Partial<RolloutGuardConfig> = {}): RolloutGuardConfig {
  return { ...DEFAULT_ROLLOUT_GUARD, ...overrides };
}
