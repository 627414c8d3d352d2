/**
 * Reads every device of a TelemetrySource at a fixed rate and measures what the reading
 * itself costs, per device per round, so that the price of watching GPUs is a number.
 * Time enters through an RxJS scheduler: in tests the sampler runs in virtual time.
 */
import { performance } from 'node:perf_hooks';
import { asyncScheduler, map, timer, type Observable, type SchedulerLike } from 'rxjs';
import { describeError } from '../domain/errors.js';
import type { GpuSample } from '../domain/events/index.js';
import type { TelemetrySource } from './devices.js';

export interface TelemetryRound {
  timestampMs: number;
  samples: GpuSample[];
  /** Devices whose reading failed this round (a GPU fallen off the bus), with the reason. */
  failures: { deviceIndex: number; reason: string }[];
  /** Wall time of the whole round divided by the number of devices, microseconds. */
  costUsPerDevice: number;
}

export interface SamplerOptions {
  /** Time between rounds; 500 gives 2 Hz. */
  intervalMs: number;
  scheduler?: SchedulerLike;
  /** Monotonic clock in microseconds used to measure the round's cost. */
  clockUs?: () => number;
}

const wallClockUs = (): number => performance.now() * 1000;

/** One round: every device once, stamped with the same timestamp. */
export function readRound(source: TelemetrySource, timestampMs: number, clockUs: () => number = wallClockUs): TelemetryRound {
  const count = source.deviceCount();
  const samples: GpuSample[] = [];
  const failures: TelemetryRound['failures'] = [];
  const start = clockUs();
  for (let i = 0; i < count; i++) {
    try {
      samples.push(source.read(i, timestampMs));
    } catch (error) {
      failures.push({ deviceIndex: i, reason: describeError(error) });
    }
  }
  const cost = clockUs() - start;
  return { timestampMs, samples, failures, costUsPerDevice: count === 0 ? 0 : cost / count };
}

/** Rounds at `intervalMs`, the first at once; unsubscribe to stop. */
export function telemetryRounds(source: TelemetrySource, options: SamplerOptions): Observable<TelemetryRound> {
  if (!(options.intervalMs > 0)) throw new RangeError(`intervalMs must be positive, got ${options.intervalMs}`);
  const scheduler = options.scheduler ?? asyncScheduler;
  return timer(0, options.intervalMs, scheduler).pipe(map(() => readRound(source, scheduler.now(), options.clockUs)));
}

/** The callback form, for shells that do not use RxJS: returns a stop function. */
export function startSampler(source: TelemetrySource, options: SamplerOptions, onRound: (round: TelemetryRound) => void): () => void {
  const subscription = telemetryRounds(source, options).subscribe(onRound);
  return () => subscription.unsubscribe();
}
