/**
 * The batching policies the benchmarks compare, each a SimPolicy over the same simulated cluster:
 *
 * - gpuflow: the batcher decider driven by its RxJS operator (batchRequests), capacity from the
 *   GPUs, measured service times fed back.
 * - bufferTime: what a user would otherwise write in RxJS: groupBy(model) then
 *   bufferTime(maxDelay, null, maxSize); batches go to a FIFO dispatch queue in front of the GPUs.
 * - Triton's dynamic batcher, from its documentation: per model, a batch is formed when an
 *   instance (here: a GPU, one execution per GPU as with the rate limiter) is free: the max batch
 *   size if queued, else the largest preferred batch size that can be formed, else everything
 *   once the oldest request waited max_queue_delay. Strict priority levels (one per SLO class),
 *   FIFO inside a level; queue policy per level: max_queue_size (reject on arrival),
 *   timeout (default_timeout, or the request's own when allow_timeout_override) with
 *   timeout_action REJECT or DELAY, applied when the queue is inspected.
 * - Ray Serve's @serve.batch, from its documentation: one replica per GPU per model, requests
 *   routed by power of two choices on queue length; a replica calls its batch handler once it has
 *   max_batch_size requests or batch_wait_timeout_s has passed since it began collecting,
 *   whichever first, one batch at a time (max_concurrent_batches = 1); FIFO, no priorities.
 *
 * Not product code: benchmark baselines, implemented from the documented behaviour.
 */
import { Subject, bufferTime, filter, groupBy, map, mergeMap } from 'rxjs';
import type { InferenceRequest } from '../../src/domain/events/request.js';
import { seededRandom } from '../../src/domain/random.js';
import { createBatcher } from '../../src/processors/batching/batcher.js';
import { batchRequests, type BatcherSourceInput } from '../../src/processors/batching/batch-operator.js';
import type { QueuePolicy } from '../../src/processors/batching/queue-policy.js';
import { expectedServiceMs, type DeviceProfile } from '../../src/gpu/simulated/latency-model.js';
import type { Sim, SimModel, SimPolicy } from './batching-sim.js';

export interface GpuflowOptions {
  readonly models: readonly SimModel[];
  readonly device: DeviceProfile;
  readonly gpus: number;
  readonly maxQueueDelayMs: number;
  readonly policy?: Partial<QueuePolicy>;
}

export function gpuflowPolicy(options: GpuflowOptions): SimPolicy {
  const input = new Subject<BatcherSourceInput>();
  const waiting = new Map<string, InferenceRequest>();
  return {
    name: 'gpuflow',
    start(sim) {
      const batcher = createBatcher({ defaults: options.policy ?? {} });
      input.pipe(batchRequests({ batcher, scheduler: sim.scheduler })).subscribe((out) => {
        if (out.type === 'RequestRejected') {
          const r = waiting.get(out.event.requestId);
          waiting.delete(out.event.requestId);
          if (r) sim.reject(r);
          return;
        }
        for (const r of out.requests) waiting.delete(r.requestId);
        sim.start(out.event.model, out.requests, (done) =>
          input.next({ type: 'BatchObserved', model: done.model, modelVersion: '1', batchSize: done.size, serviceTimeMs: done.serviceMs, inputRef: 'sim' }),
        );
      });
      for (const m of options.models) {
        // The operator profiles a model once (as a model analyzer would) and sets the prior from it.
        const one = expectedServiceMs(options.device, m.cost, 1);
        const perSampleMs = expectedServiceMs(options.device, m.cost, 2) - one;
        input.next({
          type: 'ManifestUpdated',
          manifest: {
            model: m.model,
            version: '1',
            executor: 'simulated',
            weightsUri: '',
            inputShape: [1],
            dtype: 'FP32',
            memoryPerSampleBytes: 64 * 2 ** 20,
            maxBatchSize: m.maxBatchSize,
            preferredBatchSizes: [],
            maxQueueDelayMs: options.maxQueueDelayMs,
            commit: '',
          },
          memoryBudgetBytes: options.device.memoryBytes / 2,
          policy: { ...options.policy, prior: { fixedMs: one - perSampleMs, perSampleMs } },
          inputRef: 'manifest',
        });
      }
      input.next({ type: 'CapacityAvailable', slots: options.gpus, inputRef: 'start' });
    },
    arrive(request) {
      waiting.set(request.requestId, request);
      input.next({ type: 'RequestArrived', request, inputRef: 'trace' });
    },
    gpuFree() {
      input.next({ type: 'CapacityAvailable', slots: 1, inputRef: 'gpu' });
    },
    end() {
      // Queued requests still drain: timers and capacity keep coming until every queue is empty.
    },
  };
}

export interface BufferTimeOptions {
  readonly maxDelayMs: number;
  readonly maxSize: number;
}

export function bufferTimePolicy(options: BufferTimeOptions): SimPolicy {
  const input = new Subject<InferenceRequest>();
  return {
    name: `rxjs groupBy(model) + bufferTime(${options.maxDelayMs}, null, ${options.maxSize})`,
    start(sim: Sim) {
      input
        .pipe(
          groupBy((r) => r.model),
          mergeMap((group) =>
            group.pipe(
              bufferTime(options.maxDelayMs, null, options.maxSize, sim.scheduler),
              filter((batch) => batch.length > 0),
              map((batch) => ({ model: group.key, batch })),
            ),
          ),
        )
        .subscribe(({ model, batch }) => sim.submit(model, batch));
    },
    arrive: (request) => input.next(request),
    gpuFree: () => undefined,
    end: () => input.complete(),
  };
}

export interface TritonOptions {
  readonly maxBatchSize: number;
  readonly maxQueueDelayMs: number;
  readonly preferredBatchSizes: readonly number[];
  /** One priority level per SLO class (realtime highest); false: a single level. */
  readonly priorityLevels: boolean;
  readonly timeoutAction: 'REJECT' | 'DELAY';
  /** default_timeout per level, ms (undefined: none). */
  readonly defaultTimeoutMs?: number;
  /** Clients send their deadline as the request timeout (allow_timeout_override). */
  readonly timeoutFromDeadline: boolean;
  readonly maxQueueSize?: number;
}

interface TritonEntry {
  readonly request: InferenceRequest;
  readonly enqueuedMs: number;
  readonly timeoutAtMs: number;
}

const LEVEL: Readonly<Record<string, number>> = { realtime: 0, interactive: 1, batch: 2 };

export function tritonPolicy(options: TritonOptions): SimPolicy {
  let sim: Sim;
  const queues = new Map<string, { levels: TritonEntry[][]; delayed: TritonEntry[]; timerAtMs: number }>();
  const queueOf = (model: string) => {
    let q = queues.get(model);
    if (q === undefined) {
      q = { levels: [[], [], []], delayed: [], timerAtMs: Infinity };
      queues.set(model, q);
    }
    return q;
  };

  /** Applies timeouts as Triton does when it inspects a queue: reject, or move behind everything. */
  const expire = (q: ReturnType<typeof queueOf>, now: number): void => {
    for (let l = 0; l < q.levels.length; l++) {
      const level = q.levels[l]!;
      if (!level.some((e) => e.timeoutAtMs < now)) continue;
      const kept: TritonEntry[] = [];
      for (const e of level) {
        if (e.timeoutAtMs >= now) kept.push(e);
        else if (options.timeoutAction === 'REJECT') sim.reject(e.request);
        else q.delayed.push(e);
      }
      q.levels[l] = kept;
    }
  };

  const pendingCount = (q: ReturnType<typeof queueOf>): number => q.levels.reduce((s, l) => s + l.length, 0) + q.delayed.length;
  const oldestMs = (q: ReturnType<typeof queueOf>): number => {
    let oldest = Infinity;
    for (const l of q.levels) if (l[0] && l[0].enqueuedMs < oldest) oldest = l[0].enqueuedMs;
    if (q.delayed[0] && q.delayed[0].enqueuedMs < oldest) oldest = q.delayed[0].enqueuedMs;
    return oldest;
  };

  /** The batch size Triton would send now, 0 to wait. */
  const readySize = (q: ReturnType<typeof queueOf>, now: number): number => {
    const n = pendingCount(q);
    if (n === 0) return 0;
    if (n >= options.maxBatchSize) return options.maxBatchSize;
    let preferred = 0;
    for (const p of options.preferredBatchSizes) if (p <= n && p > preferred) preferred = p;
    if (preferred > 0) return preferred;
    return now - oldestMs(q) >= options.maxQueueDelayMs ? n : 0;
  };

  const take = (q: ReturnType<typeof queueOf>, size: number): InferenceRequest[] => {
    const out: InferenceRequest[] = [];
    for (const level of [...q.levels, q.delayed]) {
      while (out.length < size && level.length > 0) out.push(level.shift()!.request);
    }
    return out;
  };

  const dispatch = (): void => {
    const now = sim.now();
    while (sim.freeGpus() > 0) {
      let best: { model: string; size: number; oldest: number } | undefined;
      for (const [model, q] of queues) {
        expire(q, now);
        const size = readySize(q, now);
        if (size === 0) continue;
        const oldest = oldestMs(q);
        if (best === undefined || oldest < best.oldest) best = { model, size, oldest };
      }
      if (best === undefined) break;
      sim.start(best.model, take(queueOf(best.model), best.size));
    }
    // Queues waiting out their delay need a wake-up when it ends.
    for (const q of queues.values()) {
      if (pendingCount(q) === 0) continue;
      const at = oldestMs(q) + options.maxQueueDelayMs;
      if (at > now && at < q.timerAtMs) {
        q.timerAtMs = at;
        sim.at(at, () => {
          q.timerAtMs = Infinity;
          dispatch();
        });
      }
    }
  };

  return {
    name: 'triton dynamic batcher',
    start(s) {
      sim = s;
    },
    arrive(request) {
      const q = queueOf(request.model);
      const level = options.priorityLevels ? (LEVEL[request.sloClass] ?? 2) : 0;
      const now = sim.now();
      if (options.maxQueueSize !== undefined && q.levels[level]!.length >= options.maxQueueSize) {
        sim.reject(request);
        return;
      }
      const timeoutAtMs = options.timeoutFromDeadline
        ? request.deadlineMs
        : options.defaultTimeoutMs !== undefined
          ? now + options.defaultTimeoutMs
          : Infinity;
      q.levels[level]!.push({ request, enqueuedMs: now, timeoutAtMs });
      dispatch();
    },
    gpuFree: () => dispatch(),
    end: () => undefined,
  };
}

export interface RayServeOptions {
  readonly maxBatchSize: number;
  readonly batchWaitTimeoutMs: number;
  readonly gpus: number;
  readonly seed: number;
}

interface Replica {
  readonly model: string;
  readonly gpu: number;
  readonly queue: InferenceRequest[];
  state: 'idle' | 'collecting' | 'running';
  collectingSince: number;
  /** Bumped each time collection starts, so a stale timeout does nothing. */
  round: number;
}

export function rayServePolicy(options: RayServeOptions): SimPolicy {
  let sim: Sim;
  const random = seededRandom(options.seed);
  const replicas = new Map<string, Replica[]>();
  const replicasOf = (model: string): Replica[] => {
    let r = replicas.get(model);
    if (r === undefined) {
      r = Array.from({ length: options.gpus }, (_, gpu) => ({ model, gpu, queue: [], state: 'idle' as const, collectingSince: 0, round: 0 }));
      replicas.set(model, r);
    }
    return r;
  };
  const ongoing = (r: Replica): number => r.queue.length + (r.state === 'running' ? 1 : 0);

  const handleBatch = (r: Replica): void => {
    const batch = r.queue.splice(0, options.maxBatchSize);
    r.state = 'running';
    sim.submit(r.model, batch, r.gpu, () => {
      r.state = 'idle';
      collect(r);
    });
  };

  const collect = (r: Replica): void => {
    if (r.state !== 'idle' || r.queue.length === 0) return;
    r.state = 'collecting';
    r.collectingSince = sim.now();
    r.round++;
    if (r.queue.length >= options.maxBatchSize) {
      handleBatch(r);
      return;
    }
    const round = r.round;
    sim.at(sim.now() + options.batchWaitTimeoutMs, () => {
      if (r.state === 'collecting' && r.round === round) handleBatch(r);
    });
  };

  return {
    name: 'ray serve @serve.batch',
    start(s) {
      sim = s;
    },
    arrive(request) {
      const rs = replicasOf(request.model);
      // Power of two choices on queue length.
      const a = rs[random.int(0, rs.length - 1)]!;
      const b = rs[random.int(0, rs.length - 1)]!;
      const r = ongoing(b) < ongoing(a) ? b : a;
      r.queue.push(request);
      if (r.state === 'idle') collect(r);
      else if (r.state === 'collecting' && r.queue.length >= options.maxBatchSize) handleBatch(r);
    },
    gpuFree: () => undefined,
    end: () => undefined,
  };
}
