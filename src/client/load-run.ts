/**
 * Plays an arrival schedule against gpuflow through the client SDK, in real time, and collects one
 * outcome per request. Sends are open-loop (they do not wait for earlier results), as real clients do.
 */
import type { Tensor } from '../domain/events/tensor.js';
import type { Arrival } from './arrivals.js';
import type { GpuflowClient } from './client.js';
import { RequestFailedError, RequestRejectedError, RequestTimeoutError } from './errors.js';
import type { Outcome } from './summary.js';

export interface LoadRunOptions {
  tensor: (arrival: Arrival, index: number) => Tensor;
  /** Called after each outcome, with how many are done. */
  onOutcome?: (done: number, outcome: Outcome) => void;
  /** Extra ms a client waits beyond the deadline before it calls a request timed out. */
  graceMs?: number;
  signal?: AbortSignal;
}

export async function runLoad(client: GpuflowClient, arrivals: readonly Arrival[], options: LoadRunOptions): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const inFlight: Promise<void>[] = [];
  const start = performance.now();
  for (const [i, arrival] of arrivals.entries()) {
    if (options.signal?.aborted) break;
    const wait = arrival.atMs - (performance.now() - start);
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sentAt = performance.now();
    inFlight.push(
      client
        .infer({ model: arrival.model, tenant: arrival.tenant, sloClass: arrival.sloClass, deadlineMs: arrival.deadlineMs, tensor: options.tensor(arrival, i), timeoutMs: arrival.deadlineMs + (options.graceMs ?? 10_000) })
        .then(
          (): Outcome => {
            const latencyMs = performance.now() - sentAt;
            return { sloClass: arrival.sloClass, status: 'OK', latencyMs, inTime: latencyMs <= arrival.deadlineMs };
          },
          (error: unknown): Outcome => ({
            sloClass: arrival.sloClass,
            status: error instanceof RequestRejectedError ? 'REJECTED' : error instanceof RequestFailedError ? 'FAILED' : error instanceof RequestTimeoutError ? 'TIMEOUT' : 'FAILED',
            latencyMs: performance.now() - sentAt,
            inTime: false,
            reason: error instanceof RequestRejectedError || error instanceof RequestFailedError ? error.reason : error instanceof Error ? error.message : String(error),
          }),
        )
        .then((outcome) => {
          outcomes.push(outcome);
          options.onOutcome?.(outcomes.length, outcome);
        }),
    );
  }
  await Promise.all(inFlight);
  return outcomes;
}
