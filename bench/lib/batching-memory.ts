/**
 * Heap per queued request in the batcher at a million queued, and what arrival and batching cost
 * at that depth: the batcher decider driven by its RxJS operator (timing wheel and timeout timers
 * included), with no capacity, so that every request stays queued; then a thousand batches are
 * drawn from the full queue.
 *
 * The requests themselves are built first and measured apart: the dispatcher holds each request
 * anyway, and the question is what the batcher adds per request. Memory is heapUsed +
 * arrayBuffers after global.gc(), so this runs in a child process under --expose-gc.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import type { InferenceRequest, SloClass } from '../../src/domain/events/request.js';
import { batchRequests, type BatcherSourceInput } from '../../src/processors/batching/batch-operator.js';
import { createBatcher } from '../../src/processors/batching/batcher.js';

const CHILD_FLAG = '--batching-memory-child';

export interface QueueMemory {
  readonly queued: number;
  /** What the batcher (decider state, operator, timing wheel) holds per queued request. */
  readonly batcherBytesPerRequest: number;
  /** The request objects themselves (ids, tenant, class, deadline; no tensor). */
  readonly requestBytesPerRequest: number;
  readonly arrivalMicros: number;
  /** Per request batched while `drainBatches` batches of `maxBatch` are drawn from the full queue. */
  readonly drainMicrosPerRequest: number;
  readonly drainBatches: number;
  readonly maxBatch: number;
  readonly batched: number;
}

const CLASSES: readonly SloClass[] = ['realtime', 'interactive', 'batch'];
const DRAIN_BATCHES = 1_000;

function heapBytes(): number {
  (globalThis as { gc?: () => void }).gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function measure(queued: number): QueueMemory {
  const maxBatch = 64;
  const base = heapBytes();
  const empty = new Uint8Array(0);
  const requests: InferenceRequest[] = [];
  for (let i = 0; i < queued; i++) {
    requests.push({
      requestId: `req-${i.toString(36).padStart(8, '0')}`, model: 'm', modelVersion: '', tenant: `tenant-${i % 8}`, sloClass: CLASSES[i % 3]!,
      deadlineMs: 3_600_000 + (i % 1000), submittedAtMs: 0, replyTo: 'inference.results', traceparent: '', tensor: empty,
    });
  }
  const withRequests = heapBytes();

  const scheduler = new VirtualTimeScheduler();
  const input = new Subject<BatcherSourceInput>();
  let batched = 0;
  const subscription = input
    .pipe(batchRequests({ batcher: createBatcher({ defaults: { maxQueueSize: queued } }), scheduler }))
    .subscribe((out) => {
      if (out.type === 'BatchFormed') batched += out.requests.length;
      else throw new Error(`batching-memory: ${out.event.requestId} rejected: ${out.event.reason}`);
    });
  input.next({
    type: 'ManifestUpdated', inputRef: 'manifest', memoryBudgetBytes: Infinity,
    manifest: { model: 'm', version: '1', executor: 'simulated', weightsUri: '', inputShape: [1], dtype: 'FP32', memoryPerSampleBytes: 0, maxBatchSize: maxBatch, preferredBatchSizes: [], maxQueueDelayMs: 5, commit: '' },
  });
  const arriveStart = performance.now();
  for (let i = 0; i < queued; i++) input.next({ type: 'RequestArrived', request: requests[i]!, inputRef: `in:0:${i}` });
  const arrivalMicros = ((performance.now() - arriveStart) * 1000) / queued;
  const full = heapBytes();

  const drainStart = performance.now();
  for (let b = 0; b < DRAIN_BATCHES; b++) input.next({ type: 'CapacityAvailable', slots: 1, inputRef: `cap:${b}` });
  const drainMicrosPerRequest = ((performance.now() - drainStart) * 1000) / batched;
  subscription.unsubscribe();
  return {
    queued,
    batcherBytesPerRequest: Math.round((full - withRequests) / queued),
    requestBytesPerRequest: Math.round((withRequests - base) / queued),
    arrivalMicros: Number(arrivalMicros.toFixed(3)),
    drainMicrosPerRequest: Number(drainMicrosPerRequest.toFixed(3)),
    drainBatches: DRAIN_BATCHES,
    maxBatch,
    batched,
  };
}

/** Runs the measurement in a child under --expose-gc (this file is also that child's entry point). */
export function measureQueueMemory(queued: number): QueueMemory {
  const child = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', '--max-old-space-size=4096', fileURLToPath(import.meta.url), CHILD_FLAG, String(queued)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (child.status !== 0) throw new Error(`batching-memory child failed (${child.status}): ${child.stderr}`);
  return JSON.parse(child.stdout) as QueueMemory;
}

if (process.argv[2] === CHILD_FLAG) process.stdout.write(JSON.stringify(measure(Number(process.argv[3]))));
