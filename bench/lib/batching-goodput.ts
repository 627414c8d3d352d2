/**
 * Goodput at an SLO: the highest rate of requests completed within their deadline that a policy
 * sustains while at least `attainment` of all requests (rejections count as misses) make their
 * deadline. Found by scaling a trace's arrival rate up by `growth` per step until attainment
 * drops below the bar, then bisecting between the last passing and the first failing scale.
 * Attainment is not strictly monotone in load (bursts land differently), so this finds a local
 * edge: every point evaluated is kept in `points`.
 */
import type { InferenceRequest } from '../../src/domain/events/request.js';
import { simulate, type ClusterOptions, type SimPolicy, type SimResult } from './batching-sim.js';
import { scaleTrace } from './traces.js';

export interface GoodputPoint {
  readonly scale: number;
  readonly attainment: number;
  readonly goodputPerSec: number;
  readonly meanBatchSize: number;
}

export interface GoodputResult {
  /** Goodput at the highest passing scale (0 when even the lowest scale fails). */
  readonly goodputPerSec: number;
  readonly scale: number;
  readonly attainmentByClass: Readonly<Record<string, number>>;
  readonly points: readonly GoodputPoint[];
}

export function goodputAt(
  makePolicy: () => SimPolicy,
  base: readonly InferenceRequest[],
  cluster: ClusterOptions,
  options: { attainment: number; startScale: number; growth: number; maxSteps?: number; bisections?: number },
): GoodputResult {
  const points: GoodputPoint[] = [];
  let best: { scale: number; result: SimResult } | undefined;
  const evaluate = (scale: number): boolean => {
    const result = simulate(makePolicy(), scaleTrace(base, scale), cluster);
    points.push({ scale: round(scale), attainment: round(result.attainment), goodputPerSec: round(result.goodputPerSec), meanBatchSize: round(result.meanBatchSize) });
    const pass = result.attainment >= options.attainment;
    if (pass && (best === undefined || result.goodputPerSec > best.result.goodputPerSec)) best = { scale, result };
    return pass;
  };
  let lo = 0;
  let hi = Infinity;
  let scale = options.startScale;
  for (let step = 0; step < (options.maxSteps ?? 16); step++) {
    if (evaluate(scale)) {
      lo = scale;
      scale *= options.growth;
    } else {
      hi = scale;
      break;
    }
  }
  if (Number.isFinite(hi) && lo > 0) {
    for (let i = 0; i < (options.bisections ?? 3); i++) {
      const mid = (lo + hi) / 2;
      if (evaluate(mid)) lo = mid;
      else hi = mid;
    }
  }
  return {
    goodputPerSec: best === undefined ? 0 : round(best.result.goodputPerSec),
    scale: best === undefined ? 0 : round(best.scale),
    attainmentByClass: best?.result.attainmentByClass ?? {},
    points,
  };
}

function round(x: number): number {
  return Number(x.toFixed(4));
}
