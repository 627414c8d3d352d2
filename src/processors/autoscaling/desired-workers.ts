/**
 * How many workers one model's SLO class needs, from what the log measured: Little's law with
 * headroom, plus what it takes to drain the backlog in time.
 *
 *   steady = λ·S / (slots · ρ)     λ arrivals/s, S slot-seconds per request (a batch's service
 *                                   time over its size), slots per worker, ρ target utilisation
 *   drain  = Q·S / (slots · D)     Q requests waiting, to be served within the class deadline D
 *   desired = clamp(⌈steady + drain⌉, min, max)
 *
 * Running at ρ < 1 keeps queueing delay bounded (it grows without bound as ρ → 1); the drain term
 * adds the capacity that clears Q within one deadline while the steady load is still served.
 * A class with load but no service time measured yet gets one worker, so that one is measured.
 */
import { ConfigError } from '../../domain/errors.js';

export interface ClassLoad {
  /** Requests arriving per second. */
  arrivalRatePerSec: number;
  /** Slot time one request takes, seconds: a batch's service time divided by its size. 0: not measured yet. */
  serviceTimeSec: number;
  /** Requests waiting to be batched. */
  queueDepth: number;
  /** How long a request of the class may take, seconds: the backlog must drain within it. */
  deadlineSec: number;
}

export interface ScalingPolicy {
  /** Batches one worker runs at once. */
  slotsPerWorker: number;
  /** Share of slot time the steady load may use, in (0, 1]. */
  targetUtilisation: number;
  minWorkers: number;
  maxWorkers: number;
}

export const DEFAULT_SCALING_POLICY: ScalingPolicy = { slotsPerWorker: 1, targetUtilisation: 0.7, minWorkers: 0, maxWorkers: 1_000 };

/** Ceil that ignores float noise below one part in a billion (2.0000000001 workers is 2). */
const ceil = (x: number): number => Math.ceil(x - 1e-9);

export function checkScalingPolicy(policy: ScalingPolicy): ScalingPolicy {
  const { slotsPerWorker, targetUtilisation, minWorkers, maxWorkers } = policy;
  if (!(slotsPerWorker > 0) || !Number.isFinite(slotsPerWorker)) throw new ConfigError(`slotsPerWorker must be a positive number, got ${slotsPerWorker}`);
  if (!(targetUtilisation > 0 && targetUtilisation <= 1)) throw new ConfigError(`targetUtilisation must be in (0, 1], got ${targetUtilisation}`);
  if (!Number.isInteger(minWorkers) || minWorkers < 0) throw new ConfigError(`minWorkers must be a non-negative integer, got ${minWorkers}`);
  if (!Number.isInteger(maxWorkers) || maxWorkers < minWorkers) throw new ConfigError(`maxWorkers must be an integer ≥ minWorkers (${minWorkers}), got ${maxWorkers}`);
  return policy;
}

/** Workers the class needs now. */
export function desiredWorkers(load: ClassLoad, policy: ScalingPolicy = DEFAULT_SCALING_POLICY): number {
  checkScalingPolicy(policy);
  const λ = Math.max(0, load.arrivalRatePerSec);
  const q = Math.max(0, load.queueDepth);
  const s = Math.max(0, load.serviceTimeSec);
  const clamp = (n: number): number => Math.min(policy.maxWorkers, Math.max(policy.minWorkers, n));
  if (λ === 0 && q === 0) return clamp(0);
  if (s === 0) return clamp(1);
  const steady = (λ * s) / (policy.slotsPerWorker * policy.targetUtilisation);
  // A deadline already past (or unknown) drains within one service time: the backlog is late anyway.
  const drainWithinSec = Math.max(load.deadlineSec, s);
  const drain = (q * s) / (policy.slotsPerWorker * drainWithinSec);
  return clamp(ceil(steady + drain));
}
