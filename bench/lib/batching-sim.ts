/**
 * A discrete-event simulation of a GPU serving cluster, in virtual time, for the batching
 * benchmarks. W simulated GPUs each run one batch at a time, any model on any GPU; a batch's
 * service time comes from the simulated latency model (src/gpu/simulated/latency-model.ts).
 * A policy decides when batches form and which requests they hold; the simulation records, for
 * every request, whether it completed by its deadline, late, or was rejected.
 *
 * The simulation is also an RxJS SchedulerLike, so RxJS operators (gpuflow's batchRequests,
 * bufferTime) run on its virtual clock unchanged.
 */
import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';
import type { InferenceRequest } from '../../src/domain/events/request.js';
import { createLatencyModel, type DeviceProfile, type LatencyModel, type ModelCost } from '../../src/gpu/simulated/latency-model.js';
import { SimEventQueue } from '../../src/whatif/sim-event-queue.js';

export interface SimModel {
  readonly model: string;
  readonly cost: ModelCost;
  readonly maxBatchSize: number;
}

export interface ClusterOptions {
  readonly gpus: number;
  readonly device: DeviceProfile;
  readonly models: readonly SimModel[];
  readonly seed: number;
  readonly noiseCv?: number;
}

export interface BatchDone {
  readonly model: string;
  readonly size: number;
  readonly serviceMs: number;
  readonly gpu: number;
}

/** What a batching policy sees of the cluster. */
export interface Sim {
  readonly scheduler: SchedulerLike;
  now(): number;
  at(timeMs: number, action: () => void): void;
  freeGpus(): number;
  /** Starts a batch on a free GPU now (the policy made sure one is free). */
  start(model: string, requests: readonly InferenceRequest[], onDone?: (done: BatchDone) => void): void;
  /** Queues a batch for a GPU (a given one, or the first free): FIFO, as a dispatch queue would. */
  submit(model: string, requests: readonly InferenceRequest[], gpu?: number, onDone?: (done: BatchDone) => void): void;
  reject(request: InferenceRequest): void;
}

export interface SimPolicy {
  readonly name: string;
  start(sim: Sim): void;
  arrive(request: InferenceRequest): void;
  /** A GPU finished a batch and nothing was queued for it. */
  gpuFree(done: BatchDone): void;
  /** The trace is over: no more arrivals. */
  end(): void;
}

export interface SimResult {
  readonly requests: number;
  readonly completed: number;
  readonly inDeadline: number;
  readonly rejected: number;
  /** Fraction of requests completed by their deadline (rejections count as misses). */
  readonly attainment: number;
  /** Requests completed by their deadline per second of trace. */
  readonly goodputPerSec: number;
  /** Requests completed (late or not) per second from the first arrival to the last completion. */
  readonly throughputPerSec: number;
  readonly meanBatchSize: number;
  readonly batches: number;
  /** Attainment per SLO class. */
  readonly attainmentByClass: Readonly<Record<string, number>>;
  /** Requests still queued when the simulation ended (a policy bug if not 0). */
  readonly lost: number;
}

interface Event {
  at: number;
  seq: number;
  run: () => void;
  cancelled: boolean;
}


interface Pending {
  model: string;
  requests: readonly InferenceRequest[];
  onDone: ((done: BatchDone) => void) | undefined;
}

export function simulate(policy: SimPolicy, trace: readonly InferenceRequest[], cluster: ClusterOptions): SimResult {
  const events = new SimEventQueue<Event>();
  let now = 0;
  let seq = 0;
  const schedule = (at: number, run: () => void): Event => {
    const e: Event = { at: Math.max(at, now), seq: seq++, run, cancelled: false };
    events.push(e);
    return e;
  };

  const scheduler: SchedulerLike = {
    now: () => now,
    schedule<T>(work: (this: SchedulerAction<T>, state: T) => void, delay = 0, state?: T): Subscription {
      let current: Event | undefined;
      const action = new Subscription(() => {
        if (current) current.cancelled = true;
      }) as Subscription & { schedule(state?: T, delay?: number): Subscription };
      const fire = (s: T) => () => {
        if (!action.closed) work.call(action as unknown as SchedulerAction<T>, s);
      };
      action.schedule = (nextState?: T, nextDelay = 0): Subscription => {
        current = schedule(now + nextDelay, fire(nextState as T));
        return action;
      };
      current = schedule(now + delay, fire(state as T));
      return action;
    },
  };

  const latency = new Map<string, LatencyModel[]>();
  cluster.models.forEach((m, mi) => {
    latency.set(
      m.model,
      Array.from({ length: cluster.gpus }, (_, g) =>
        createLatencyModel({ device: cluster.device, cost: m.cost, seed: cluster.seed * 7919 + mi * 101 + g, noiseCv: cluster.noiseCv ?? 0.05 }),
      ),
    );
  });

  const busy: boolean[] = new Array<boolean>(cluster.gpus).fill(false);
  const perGpu: Pending[][] = Array.from({ length: cluster.gpus }, () => []);
  const shared: Pending[] = [];
  const outcome = new Map<string, 'ok' | 'late' | 'rejected'>();
  let batches = 0;
  let batchedRequests = 0;
  let lastCompletion = 0;

  const run = (gpu: number, p: Pending): void => {
    busy[gpu] = true;
    batches++;
    batchedRequests += p.requests.length;
    const serviceMs = latency.get(p.model)![gpu]!.sample(p.requests.length, now);
    schedule(now + serviceMs, () => {
      for (const r of p.requests) {
        if (outcome.has(r.requestId)) throw new Error(`request ${r.requestId} finished twice`);
        outcome.set(r.requestId, now <= r.deadlineMs ? 'ok' : 'late');
      }
      lastCompletion = now;
      busy[gpu] = false;
      const done: BatchDone = { model: p.model, size: p.requests.length, serviceMs, gpu };
      p.onDone?.(done);
      const next = perGpu[gpu]!.shift() ?? shared.shift();
      if (next !== undefined) run(gpu, next);
      else policy.gpuFree(done);
    });
  };

  const sim: Sim = {
    scheduler,
    now: () => now,
    at: (t, action) => void schedule(t, action),
    freeGpus: () => busy.filter((b) => !b).length,
    start(model, requests, onDone) {
      const gpu = busy.indexOf(false);
      if (gpu < 0) throw new Error(`${policy.name} started a batch with no free GPU`);
      run(gpu, { model, requests, onDone });
    },
    submit(model, requests, gpu, onDone) {
      const p: Pending = { model, requests, onDone };
      if (gpu !== undefined) {
        if (!busy[gpu]) run(gpu, p);
        else perGpu[gpu]!.push(p);
        return;
      }
      const free = busy.indexOf(false);
      if (free >= 0) run(free, p);
      else shared.push(p);
    },
    reject(request) {
      if (outcome.has(request.requestId)) throw new Error(`request ${request.requestId} rejected after it finished`);
      outcome.set(request.requestId, 'rejected');
    },
  };

  policy.start(sim);
  let i = 0;
  const feed = (): void => {
    const r = trace[i++];
    if (r === undefined) {
      policy.end();
      return;
    }
    policy.arrive(r);
    const next = trace[i];
    if (next !== undefined) schedule(next.submittedAtMs, feed);
    else schedule(now, feed);
  };
  if (trace.length > 0) schedule(trace[0]!.submittedAtMs, feed);
  else policy.end();
  for (let e = events.pop(); e !== undefined; e = events.pop()) {
    if (e.cancelled) continue;
    now = e.at;
    e.run();
  }

  let inDeadline = 0;
  let rejected = 0;
  const byClass = new Map<string, { n: number; ok: number }>();
  for (const r of trace) {
    const o = outcome.get(r.requestId);
    const c = byClass.get(r.sloClass) ?? { n: 0, ok: 0 };
    c.n++;
    if (o === 'ok') {
      inDeadline++;
      c.ok++;
    }
    if (o === 'rejected') rejected++;
    byClass.set(r.sloClass, c);
  }
  const first = trace[0]?.submittedAtMs ?? 0;
  const lastArrival = trace[trace.length - 1]?.submittedAtMs ?? 0;
  const completed = [...outcome.values()].filter((o) => o !== 'rejected').length;
  return {
    requests: trace.length,
    completed,
    inDeadline,
    rejected,
    attainment: trace.length === 0 ? 1 : inDeadline / trace.length,
    goodputPerSec: inDeadline / (Math.max(1, lastArrival - first) / 1000),
    throughputPerSec: completed / (Math.max(1, lastCompletion - first) / 1000),
    meanBatchSize: batches === 0 ? 0 : batchedRequests / batches,
    batches,
    attainmentByClass: Object.fromEntries([...byClass.entries()].sort().map(([k, v]) => [k, Number((v.ok / v.n).toFixed(4))])),
    lost: trace.length - outcome.size,
  };
}
