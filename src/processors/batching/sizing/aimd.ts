/**
 * AIMD batch sizing (as TCP sizes its window): while the p95 service time over a sliding window of
 * recent batches stays at or under the target, the batch limit grows by `step` per batch; when
 * it goes over, the limit is cut by `decrease` and the window restarts, so the next decision
 * rests on batches of the new size only. The limit settles just under the size whose p95 meets
 * the target, and after a latency spike it backs off at once and climbs back when the spike ends.
 */
import { quantileSorted } from 'simple-statistics';
import type { SizingPolicy } from './sizing-policy.js';

export interface AimdOptions {
  /** The p95 service time to hold, ms. */
  readonly targetP95Ms: number;
  /** Additive increase per batch (default 1). */
  readonly step?: number;
  /** Multiplicative decrease (default 0.9). */
  readonly decrease?: number;
  /** Bounds of the limit (default 1 .. the queue's max batch). */
  readonly minBatch?: number;
  readonly maxBatch?: number;
  /** Batches in the sliding window (default 20); a decision needs half of it. */
  readonly window?: number;
  /** Where the limit starts (default minBatch). */
  readonly initial?: number;
}

export interface AimdState {
  readonly limit: number;
  /** Service times of the batches since the last decrease, oldest first, at most `window`. */
  readonly recentMs: readonly number[];
}

export function aimdSizing(options: AimdOptions): SizingPolicy<AimdState> {
  const step = options.step ?? 1;
  const decrease = options.decrease ?? 0.9;
  const window = options.window ?? 20;
  const minBatch = Math.max(1, options.minBatch ?? 1);
  if (!(options.targetP95Ms > 0)) throw new RangeError(`AIMD targetP95Ms must be > 0, got ${options.targetP95Ms}`);
  if (!(decrease > 0 && decrease < 1)) throw new RangeError(`AIMD decrease must be in (0, 1), got ${decrease}`);
  const upper = (maxBatch: number): number => Math.max(minBatch, Math.min(maxBatch, options.maxBatch ?? maxBatch));
  return {
    kind: 'aimd',
    initialState: (maxBatch) => ({ limit: Math.min(upper(maxBatch), Math.max(minBatch, options.initial ?? minBatch)), recentMs: [] }),
    observe(state, observation, maxBatch) {
      const recentMs = [...state.recentMs, observation.serviceTimeMs].slice(-window);
      if (recentMs.length < Math.ceil(window / 2)) return { limit: Math.min(state.limit, upper(maxBatch)), recentMs };
      const p95 = quantileSorted([...recentMs].sort((a, b) => a - b), 0.95);
      if (p95 > options.targetP95Ms) {
        return { limit: Math.max(minBatch, Math.floor(state.limit * decrease)), recentMs: [] };
      }
      return { limit: Math.min(upper(maxBatch), state.limit + step), recentMs };
    },
    target: (state, context) => Math.max(1, Math.min(state.limit, context.maxBatch)),
  };
}
