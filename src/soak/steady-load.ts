/**
 * Steady open-loop load for a soak: Poisson arrivals at a fixed mean rate, drawn as it goes (a
 * seeded generator, not a planned list), so that hours of load hold nothing per request once it
 * is answered: only counters and the latencies of the current sampling window.
 */
import type { GpuflowClient } from '../client/client.js';
import { RequestRejectedError, RequestTimeoutError } from '../client/errors.js';
import type { SloClass } from '../domain/events/request.js';
import type { Tensor } from '../domain/events/tensor.js';
import { seededRandom } from '../domain/random.js';

export interface SteadyLoadOptions {
  ratePerSec: number;
  model: string;
  tenants: readonly string[];
  /** Each request's class, with its relative deadline in ms. */
  classes: Readonly<Partial<Record<SloClass, number>>>;
  /** Extra wait beyond the deadline before a request counts as timed out. */
  graceMs: number;
  seed: number;
  tensor: (index: number) => Tensor;
}

export interface LoadCounters {
  sent: number;
  ok: number;
  rejected: number;
  timedOut: number;
  failed: number;
  inFlight: number;
  /** Reasons of rejections and failures, the most frequent first when read out. */
  reasons: Map<string, number>;
}

export interface SteadyLoad {
  readonly counters: LoadCounters;
  /** Latencies (ms) of answers since the last call, emptied by it. */
  drainLatencies(): number[];
  /** Stops sending and waits for every request sent to be answered or to time out. */
  stop(): Promise<void>;
}

/** Distinct reasons kept; beyond it they are counted under 'other' so the map stays bounded. */
const MAX_REASONS = 20;

export function startSteadyLoad(client: GpuflowClient, options: SteadyLoadOptions): SteadyLoad {
  const random = seededRandom(options.seed);
  const classes = Object.entries(options.classes) as [SloClass, number][];
  const counters: LoadCounters = { sent: 0, ok: 0, rejected: 0, timedOut: 0, failed: 0, inFlight: 0, reasons: new Map() };
  let latencies: number[] = [];
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let drained!: () => void;
  const allAnswered = new Promise<void>((resolve) => (drained = resolve));
  const start = performance.now();
  let nextAtMs = 0;

  const note = (text: string): void => {
    // Reasons carry figures (ms left, queue depth); without them, reasons of one kind count together.
    const reason = text.replace(/-?\d+(\.\d+)?/g, 'N');
    const key = counters.reasons.has(reason) || counters.reasons.size < MAX_REASONS ? reason : 'other';
    counters.reasons.set(key, (counters.reasons.get(key) ?? 0) + 1);
  };

  function send(): void {
    const index = counters.sent++;
    const [sloClass, deadlineMs] = random.pick(classes);
    const tenant = random.pick(options.tenants);
    const sentAt = performance.now();
    counters.inFlight++;
    client
      .infer({ model: options.model, tenant, sloClass, deadlineMs, tensor: options.tensor(index), timeoutMs: deadlineMs + options.graceMs })
      .then(
        () => {
          counters.ok++;
          latencies.push(performance.now() - sentAt);
        },
        (error: unknown) => {
          if (error instanceof RequestRejectedError) counters.rejected++;
          else if (error instanceof RequestTimeoutError) counters.timedOut++;
          else counters.failed++;
          note(error instanceof RequestRejectedError ? error.reason : error instanceof Error ? error.message : String(error));
        },
      )
      .finally(() => {
        counters.inFlight--;
        if (stopped && counters.inFlight === 0) drained();
      });
  }

  const gap = (): number => random.exponential(1000 / options.ratePerSec);
  /** Sends what is due and sleeps until the next arrival: a late timer catches up, so the mean rate holds. */
  function tick(): void {
    if (stopped) return;
    const now = performance.now() - start;
    while (nextAtMs <= now) {
      send();
      nextAtMs += gap();
    }
    timer = setTimeout(tick, nextAtMs - now);
  }

  nextAtMs = gap();
  timer = setTimeout(tick, nextAtMs);
  return {
    counters,
    drainLatencies() {
      const out = latencies;
      latencies = [];
      return out;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      if (counters.inFlight === 0) drained();
      await allAnswered;
    },
  };
}
