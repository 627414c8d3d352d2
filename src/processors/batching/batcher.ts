/**
 * The micro-batcher as a decider: one queue per (model, version), batches formed only when a
 * worker has capacity or a timer fires, never by polling.
 *
 * When a worker has a free slot, a queue sends a batch if it is ready:
 * - its size target is reached (FULL at the max batch, PREFERRED_SIZE at the sizing policy's
 *   target or at a preferred size of the manifest, taking the largest one that fits), or
 * - waiting longer would make its most urgent request miss its deadline, given the predicted
 *   service time of the batch it would send now (DEADLINE), or
 * - its oldest request has waited the manifest's max queue delay (MAX_DELAY);
 * a batch held only for want of capacity goes out as CAPACITY when a slot arrives. Among ready
 * queues the one holding the most urgent request goes first. Members are drawn through the queue
 * discipline (default: SLO class with aging, then earliest deadline, then arrival).
 *
 * The max batch is the smaller of the manifest's max batch size and what the target GPU's memory
 * budget holds (memoryPerSampleBytes × n ≤ budget). A newcomer to a full queue is rejected, and
 * a request whose queue timeout passes is rejected or kept waiting behind all others, by policy.
 *
 * Timers are asked for, not kept: RequestQueued carries the request's timeout and FlushTimerSet a
 * queue's next flush; the shell holds them (in a timing wheel) and feeds TimerFired back.
 *
 * State and purity: each queue's requests live in a mutable, indexed RequestQueue, so that an
 * arrival, a batch and a rejection cost O(log n) however deep the queue (a copy per arrival cost
 * O(n)). `evolve` and `apply` therefore consume the state they are given: it changes in place, and
 * the caller keeps only the state they return. `decide` is pure: it rolls back what it folded
 * while deciding. To use one state twice (a snapshot, a test), start each use from
 * `copyState(state)`; compare states with `snapshotOf`.
 */
import type { Decider } from '../../domain/decider.js';
import type { InferenceRequest } from '../../domain/events/request.js';
import type { BatchFormed, RequestRejected } from '../../domain/events/scheduler.js';
import type { BatcherEvent, QueueConfigured } from './batcher-event.js';
import type { BatcherInput, BatcherTimer } from './batcher-input.js';
import { classPriorityWithAging, type DisciplineContext, type QueueDiscipline } from './queue-discipline.js';
import { DEFAULT_QUEUE_POLICY, type QueuePolicy, type SizingConfig } from './queue-policy.js';
import type { QueuedRequest } from './queued-request.js';
import { rankAt, RequestQueue, type UndoLog } from './request-queue.js';
import { initialEstimate, observeServiceTime, predictServiceMs, type ServiceTimeEstimate } from './service-time.js';
import { aimdSizing } from './sizing/aimd.js';
import { modelBasedSizing } from './sizing/model-based.js';
import type { SizingPolicy } from './sizing/sizing-policy.js';

export interface QueueState {
  readonly key: string;
  readonly model: string;
  readonly version: string;
  readonly maxBatch: number;
  readonly preferredBatchSizes: readonly number[];
  readonly maxQueueDelayMs: number;
  readonly policy: QueuePolicy;
  /** Changed in place by evolve (see the file's comment). */
  readonly requests: RequestQueue;
  readonly nextSeq: number;
  readonly batchesFormed: number;
  readonly estimate: ServiceTimeEstimate;
  readonly sizing: unknown;
  readonly discipline: unknown;
  readonly flushAtMs: number | null;
}

export interface BatcherState {
  readonly queues: Readonly<Record<string, QueueState>>;
  /** Model → the version its latest manifest named, for requests that leave the version empty. */
  readonly routes: Readonly<Record<string, string>>;
  /** Batches workers will accept now. */
  readonly capacity: number;
}

export interface BatcherConfig {
  /** Queue policy for every model unless its ManifestUpdated overrides fields. */
  readonly defaults?: Partial<QueuePolicy>;
  /** How queued requests are drawn into a batch (tenant fair share plugs in here). */
  readonly discipline?: QueueDiscipline<unknown>;
}

/** What one input did: the events decided, the state they fold to, and each formed batch's requests. */
export interface BatcherStep {
  readonly state: BatcherState;
  readonly events: readonly BatcherEvent[];
  /** batchId → the requests of that batch, in batch order. */
  readonly members: ReadonlyMap<string, readonly InferenceRequest[]>;
}

/**
 * The batcher decider. `decide` is pure; `evolve` and `apply` change the state they are given in
 * place and return it (or a state sharing its queues): use only what they return.
 */
export type Batcher = Decider<BatcherState, BatcherInput, BatcherEvent> & {
  /**
   * decide and evolve in one pass: deciding already folds each event to see its effect, so the
   * shell takes the folded state from here instead of folding the events a second time.
   */
  apply(state: BatcherState, input: BatcherInput, nowMs: number): BatcherStep;
};

export function queueKey(model: string, version: string): string {
  return `${model}@${version}`;
}

const sizingCache = new WeakMap<SizingConfig, SizingPolicy<unknown>>();

/** The sizing policy a queue's config names (one instance per config object). */
function sizingPolicyFor(config: SizingConfig): SizingPolicy<unknown> {
  let policy = sizingCache.get(config);
  if (policy === undefined) {
    policy = (config.kind === 'aimd' ? aimdSizing(config) : modelBasedSizing()) as SizingPolicy<unknown>;
    sizingCache.set(config, policy);
  }
  return policy;
}

/** The timer whose firing decides for this input, named the way DecisionContext asks. */
function inputRefOf(input: BatcherInput, nowMs: number): string {
  return input.type === 'TimerFired' ? `tick:${nowMs}` : input.inputRef;
}

interface Plan {
  readonly ready: boolean;
  readonly size: number;
  readonly reason: BatchFormed['reason'];
  /** When the queue becomes ready by time if nothing else happens (Infinity: never). */
  readonly dueAtMs: number;
}

export function createBatcher(config: BatcherConfig = {}): Batcher {
  const defaults: QueuePolicy = { ...DEFAULT_QUEUE_POLICY, ...config.defaults };
  const discipline = config.discipline ?? (classPriorityWithAging as QueueDiscipline<unknown>);

  const contextOf = (queue: QueueState, nowMs: number): DisciplineContext => ({ nowMs, agingMs: queue.policy.agingMs });

  /** Size target of the queue now (1..maxBatch), exact when the candidates' deadlines are given. */
  const targetOf = (queue: QueueState, nowMs: number, candidateDeadlinesMs?: readonly number[]): number => {
    const policy = sizingPolicyFor(queue.policy.sizing);
    const target = policy.target(queue.sizing, {
      nowMs,
      maxBatch: queue.maxBatch,
      tightestDeadlineMs: queue.requests.tightestDeadlineMs,
      estimate: queue.estimate,
      headroom: queue.policy.headroom,
      ...(candidateDeadlinesMs === undefined ? {} : { candidateDeadlinesMs }),
    });
    return Math.max(1, Math.min(queue.maxBatch, Math.floor(target)));
  };

  /** Whether the queue would send a batch now given capacity, how big, and why. */
  const planOf = (queue: QueueState, nowMs: number): Plan => {
    const n = queue.requests.size;
    if (n === 0 || queue.maxBatch < 1) return { ready: false, size: 0, reason: 'MAX_DELAY', dueAtMs: Infinity };
    const target = targetOf(queue, nowMs);
    const upper = Math.min(n, target);
    if (n >= target) return { ready: true, size: target, reason: target === queue.maxBatch ? 'FULL' : 'PREFERRED_SIZE', dueAtMs: nowMs };
    let preferred = 0;
    for (const p of queue.preferredBatchSizes) if (p <= upper && p > preferred) preferred = p;
    if (preferred > 0) return { ready: true, size: preferred, reason: 'PREFERRED_SIZE', dueAtMs: nowMs };
    const latestStartMs = queue.requests.tightestDeadlineMs - predictServiceMs(queue.estimate, upper) * queue.policy.headroom;
    const maxDelayAtMs = queue.requests.oldestArrivalMs + queue.maxQueueDelayMs;
    if (nowMs >= latestStartMs) return { ready: true, size: upper, reason: 'DEADLINE', dueAtMs: nowMs };
    if (nowMs >= maxDelayAtMs) return { ready: true, size: upper, reason: 'MAX_DELAY', dueAtMs: nowMs };
    return { ready: false, size: upper, reason: 'MAX_DELAY', dueAtMs: Math.min(latestStartMs, maxDelayAtMs) };
  };

  /** A small accumulator: every emitted event is folded at once, so later rules see its effect. */
  class Decision {
    readonly events: BatcherEvent[] = [];
    readonly members = new Map<string, readonly InferenceRequest[]>();
    constructor(
      public state: BatcherState,
      readonly nowMs: number,
      readonly inputRef: string,
      /** Set when deciding only: every change to a queue records its inverse here. */
      readonly undo: UndoLog | undefined,
    ) {}

    emit(event: BatcherEvent): void {
      this.events.push(event);
      this.state = evolveWith(this.state, event, this.undo);
    }

    reject(request: InferenceRequest, reason: string): void {
      const rejected: RequestRejected = {
        type: 'RequestRejected',
        requestId: request.requestId,
        model: request.model,
        tenant: request.tenant,
        reason,
        // The batcher's requests have not reached the scheduler.
        leavesBatch: false,
        atMs: this.nowMs,
        inputs: [this.inputRef],
      };
      this.emit(rejected);
    }

    /** Rejects every request waiting in the queue, with one reason. */
    rejectQueued(queue: QueueState, reason: string): void {
      for (const q of [...queue.requests]) this.reject(q.request, reason);
    }

    /** Forms batches while workers have capacity and some queue is ready, most urgent first. */
    dispatch(onCapacity: boolean): void {
      while (this.state.capacity > 0) {
        let best: { queue: QueueState; plan: Plan; rank: number; deadlineMs: number } | undefined;
        for (const queue of Object.values(this.state.queues)) {
          const plan = planOf(queue, this.nowMs);
          if (!plan.ready) continue;
          const head = discipline.select(queue.discipline, queue.requests, 1, contextOf(queue, this.nowMs))[0];
          if (head === undefined) continue;
          const rank = rankAt(head, this.nowMs, queue.policy.agingMs);
          const deadlineMs = head.request.deadlineMs;
          if (best === undefined || rank < best.rank || (rank === best.rank && deadlineMs < best.deadlineMs)) {
            best = { queue, plan, rank, deadlineMs };
          }
        }
        if (best === undefined) return;
        this.form(best.queue, best.plan, onCapacity);
      }
    }

    /**
     * Forms one batch from a ready queue. Members are the most urgent requests; the size is the
     * sizing policy's, now that the members' deadlines are known (rounded down to a preferred
     * size when one fits). Under a backlog, a request that could only make its deadline in a
     * batch too small to be efficient is rejected rather than shrinking the batch, which would
     * make every request behind it later (early drop, policy `efficiencyFloor`).
     */
    private form(queue: QueueState, plan: Plan, onCapacity: boolean): void {
      const context = contextOf(queue, this.nowMs);
      let candidates = discipline.select(queue.discipline, queue.requests, queue.maxBatch, context);
      let size = this.sizeFor(queue, candidates);
      const floor = efficientBatch(queue);
      if (size < floor && candidates.length >= floor) {
        const completionMs = this.nowMs + predictServiceMs(queue.estimate, floor) * queue.policy.headroom;
        const hopeless = candidates.slice(0, floor).filter((c) => c.request.deadlineMs < completionMs && !c.timedOut);
        for (const c of hopeless) {
          this.reject(c.request, `deadline cannot be met in an efficient batch under load: ${(c.request.deadlineMs - this.nowMs).toFixed(1)} ms left, a batch of ${floor} takes ${(completionMs - this.nowMs).toFixed(1)} ms`);
        }
        const current = this.state.queues[queue.key]!;
        candidates = discipline.select(current.discipline, current.requests, current.maxBatch, context);
        size = this.sizeFor(current, candidates);
      }
      if (candidates.length === 0) return;
      const members = candidates.slice(0, size);
      const formed: BatchFormed = {
        type: 'BatchFormed',
        batchId: `${queue.key}#${queue.batchesFormed + 1}`,
        model: queue.model,
        modelVersion: queue.version,
        requestIds: members.map((m) => m.request.requestId),
        reason: members.length === queue.maxBatch ? 'FULL' : onCapacity ? 'CAPACITY' : plan.reason,
        atMs: this.nowMs,
        inputs: [this.inputRef],
      };
      this.members.set(formed.batchId, members.map((m) => m.request));
      this.emit(formed);
    }

    /** Batch size for these candidates: the sizing target, then the largest preferred size under it. */
    private sizeFor(queue: QueueState, candidates: readonly QueuedRequest[]): number {
      const target = targetOf(queue, this.nowMs, candidates.map((c) => c.request.deadlineMs));
      const size = Math.min(candidates.length, target);
      let preferred = 0;
      for (const p of queue.preferredBatchSizes) if (p <= size && p > preferred) preferred = p;
      return preferred > 0 ? preferred : size;
    }

    /** Re-arms each queue's flush timer where its due time moved. */
    rearm(): void {
      for (const queue of Object.values(this.state.queues)) {
        const plan = planOf(queue, this.nowMs);
        // A ready queue waits for capacity, not for time; an idle one needs no timer.
        const atMs = plan.ready || !Number.isFinite(plan.dueAtMs) ? null : plan.dueAtMs;
        if (atMs !== queue.flushAtMs) this.emit({ type: 'FlushTimerSet', queue: queue.key, atMs });
      }
    }
  }

  const apply = (state: BatcherState, input: BatcherInput, nowMs: number, undo?: UndoLog): BatcherStep => {
    const d = new Decision(state, nowMs, inputRefOf(input, nowMs), undo);
    switch (input.type) {
      case 'ManifestUpdated': {
        const { manifest } = input;
        const policy: QueuePolicy = { ...defaults, ...input.policy };
        const byMemory = manifest.memoryPerSampleBytes > 0 ? Math.floor(input.memoryBudgetBytes / manifest.memoryPerSampleBytes) : Infinity;
        const configured: QueueConfigured = {
          type: 'QueueConfigured',
          queue: queueKey(manifest.model, manifest.version),
          manifest,
          policy,
          maxBatch: Math.max(0, Math.min(manifest.maxBatchSize, byMemory)),
        };
        d.emit(configured);
        d.dispatch(false);
        break;
      }
      case 'RequestArrived': {
        const { request } = input;
        const version = request.modelVersion || state.routes[request.model];
        const queue = version === undefined ? undefined : state.queues[queueKey(request.model, version)];
        if (queue === undefined) {
          d.reject(request, `no manifest for model ${request.model}${request.modelVersion ? ` version ${request.modelVersion}` : ''}`);
          break;
        }
        if (queue.maxBatch < 1) {
          d.reject(request, `model ${queue.key} does not fit the device memory budget even in a batch of one`);
          break;
        }
        if (queue.requests.size >= queue.policy.maxQueueSize) {
          d.reject(request, `queue full: ${queue.requests.size} requests waiting for ${queue.key} (max ${queue.policy.maxQueueSize})`);
          break;
        }
        const aloneMs = predictServiceMs(queue.estimate, 1) * queue.policy.headroom;
        const timeoutAtMs = queue.policy.timeoutMs !== undefined ? nowMs + queue.policy.timeoutMs : request.deadlineMs - aloneMs;
        if (timeoutAtMs <= nowMs && queue.policy.onTimeout === 'reject') {
          d.reject(request, queue.policy.timeoutMs !== undefined
            ? `queue timeout of ${queue.policy.timeoutMs} ms already passed`
            : `deadline cannot be met: ${(request.deadlineMs - nowMs).toFixed(1)} ms left, a batch of one takes ${aloneMs.toFixed(1)} ms`);
          break;
        }
        d.emit({
          type: 'RequestQueued',
          queue: queue.key,
          queued: { request, seq: queue.nextSeq, arrivedAtMs: nowMs, timeoutAtMs, timedOut: timeoutAtMs <= nowMs },
        });
        d.dispatch(false);
        break;
      }
      case 'CapacityAvailable':
        if (input.slots > 0) d.emit({ type: 'CapacityGranted', slots: input.slots });
        d.dispatch(true);
        break;
      case 'TimerFired':
        // Dispatch first: at the last moment a request can still make its deadline, a batch
        // that takes it beats the timeout that would reject it.
        d.dispatch(false);
        if (input.timer.kind === 'timeout') {
          timeout(d, input.timer);
          d.dispatch(false);
        }
        break;
      case 'BatchObserved': {
        const key = queueKey(input.model, input.modelVersion);
        if (state.queues[key] !== undefined && input.batchSize > 0 && input.serviceTimeMs >= 0) {
          d.emit({ type: 'ServiceTimeObserved', queue: key, batchSize: input.batchSize, serviceTimeMs: input.serviceTimeMs });
        }
        d.dispatch(false);
        break;
      }
      case 'ModelRetired':
        for (const queue of Object.values(state.queues)) {
          if (queue.model !== input.model) continue;
          d.rejectQueued(queue, `model ${input.model} was retired before the request was batched`);
          if (queue.flushAtMs !== null) d.emit({ type: 'FlushTimerSet', queue: queue.key, atMs: null });
          d.emit({ type: 'QueueRetired', queue: queue.key });
        }
        break;
      case 'BatcherStopped':
        for (const queue of Object.values(state.queues)) d.rejectQueued(queue, 'batcher stopped before the request was batched');
        break;
    }
    d.rearm();
    return { state: d.state, events: d.events, members: d.members };
  };

  const timeout = (d: Decision, timer: Extract<BatcherTimer, { kind: 'timeout' }>): void => {
    const queue = d.state.queues[timer.queue];
    const queued = queue?.requests.get(timer.requestId);
    if (queue === undefined || queued === undefined || queued.timedOut) return;
    if (queue.policy.onTimeout === 'keep') {
      d.emit({ type: 'RequestTimedOut', queue: queue.key, requestId: timer.requestId });
      return;
    }
    const waited = d.nowMs - queued.arrivedAtMs;
    d.reject(queued.request, queue.policy.timeoutMs !== undefined
      ? `queue timeout: waited ${waited} ms (limit ${queue.policy.timeoutMs} ms)`
      : `deadline can no longer be met: waited ${waited} ms, ${(queued.request.deadlineMs - d.nowMs).toFixed(1)} ms left`);
  };

  const evolveWith = (state: BatcherState, event: BatcherEvent, undo: UndoLog | undefined): BatcherState => {
    switch (event.type) {
      case 'QueueConfigured':
        return configure(state, event);
      case 'RequestQueued':
        return updateQueue(state, event.queue, (q) => {
          q.requests.add(event.queued, undo);
          return { ...q, nextSeq: event.queued.seq + 1 };
        });
      case 'BatchFormed': {
        const next = updateQueue(state, queueKey(event.model, event.modelVersion), (q) => {
          const members: QueuedRequest[] = [];
          for (const id of event.requestIds) {
            const member = q.requests.get(id);
            if (member !== undefined) members.push(member);
          }
          const context = { nowMs: event.atMs, agingMs: q.policy.agingMs };
          const charged = discipline.charge(q.discipline, members, q.requests, context);
          for (const id of event.requestIds) q.requests.remove(id, undo);
          return { ...q, batchesFormed: q.batchesFormed + 1, discipline: charged };
        });
        return { ...next, capacity: Math.max(0, next.capacity - 1) };
      }
      case 'RequestRejected': {
        const queue = Object.values(state.queues).find((q) => q.model === event.model && q.requests.has(event.requestId));
        queue?.requests.remove(event.requestId, undo);
        return state;
      }
      case 'RequestTimedOut':
        state.queues[event.queue]?.requests.markTimedOut(event.requestId, undo);
        return state;
      case 'FlushTimerSet':
        return updateQueue(state, event.queue, (q) => ({ ...q, flushAtMs: event.atMs }));
      case 'CapacityGranted':
        return { ...state, capacity: state.capacity + event.slots };
      case 'QueueRetired': {
        const queue = state.queues[event.queue];
        if (queue === undefined) return state;
        const queues = { ...state.queues };
        delete queues[event.queue];
        const routes = { ...state.routes };
        if (routes[queue.model] === queue.version) delete routes[queue.model];
        return { ...state, queues, routes };
      }
      case 'ServiceTimeObserved':
        return updateQueue(state, event.queue, (q) => ({
          ...q,
          estimate: observeServiceTime(q.estimate, event.batchSize, event.serviceTimeMs),
          sizing: sizingPolicyFor(q.policy.sizing).observe(q.sizing, event, q.maxBatch),
        }));
    }
  };

  const configure = (state: BatcherState, event: QueueConfigured): BatcherState => {
    const { manifest, policy, maxBatch } = event;
    const existing = state.queues[event.queue];
    const sizing = sizingPolicyFor(policy.sizing);
    const keepSizing = existing !== undefined && existing.policy.sizing === policy.sizing && existing.maxBatch === maxBatch;
    const queue: QueueState = {
      key: event.queue,
      model: manifest.model,
      version: manifest.version,
      maxBatch,
      preferredBatchSizes: manifest.preferredBatchSizes.filter((p) => p >= 1 && p <= maxBatch),
      maxQueueDelayMs: manifest.maxQueueDelayMs,
      policy,
      // A new aging period changes every request's urgency key: the queue is re-indexed.
      requests: existing === undefined ? new RequestQueue(policy.agingMs) : existing.requests.agingMs === policy.agingMs ? existing.requests : existing.requests.copy(policy.agingMs),
      nextSeq: existing?.nextSeq ?? 0,
      batchesFormed: existing?.batchesFormed ?? 0,
      estimate: existing !== undefined && existing.estimate.window.length > 0 ? existing.estimate : initialEstimate(policy.prior, policy.estimateWindow),
      sizing: keepSizing ? existing.sizing : sizing.initialState(Math.max(1, maxBatch)),
      discipline: existing?.discipline ?? discipline.initialState(),
      flushAtMs: existing?.flushAtMs ?? null,
    };
    return { ...state, queues: { ...state.queues, [event.queue]: queue }, routes: { ...state.routes, [manifest.model]: manifest.version } };
  };

  return {
    initialState: () => ({ queues: {}, routes: {}, capacity: 0 }),
    decide: (state, input, nowMs) => {
      const undo: UndoLog = [];
      try {
        return apply(state, input, nowMs, undo).events;
      } finally {
        for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
      }
    },
    evolve: (state, event) => evolveWith(state, event, undefined),
    apply: (state, input, nowMs) => apply(state, input, nowMs),
  };
}

/**
 * The smallest batch that reaches `efficiencyFloor` of the throughput of a full batch, by the
 * service-time estimate (1 when the floor is 0: early drop off).
 */
function efficientBatch(queue: QueueState): number {
  const floor = queue.policy.efficiencyFloor;
  if (!(floor > 0)) return 1;
  const rate = (n: number): number => n / Math.max(1e-9, predictServiceMs(queue.estimate, n));
  const wanted = floor * rate(queue.maxBatch);
  for (let n = 1; n <= queue.maxBatch; n++) if (rate(n) >= wanted) return n;
  return queue.maxBatch;
}

function updateQueue(state: BatcherState, key: string, change: (queue: QueueState) => QueueState): BatcherState {
  const queue = state.queues[key];
  if (queue === undefined) return state;
  return { ...state, queues: { ...state.queues, [key]: change(queue) } };
}

/** A state that shares nothing mutable with `state`: start each use of one state from its own copy. */
export function copyState(state: BatcherState): BatcherState {
  const queues: Record<string, QueueState> = {};
  for (const [key, queue] of Object.entries(state.queues)) queues[key] = { ...queue, requests: queue.requests.copy() };
  return { ...state, queues };
}

/** The state as plain data (queued requests in arrival order), for comparing two states. */
export function snapshotOf(state: BatcherState): unknown {
  const queues: Record<string, unknown> = {};
  for (const [key, queue] of Object.entries(state.queues)) {
    queues[key] = { ...queue, requests: [...queue.requests].map((q) => ({ request: q.request, seq: q.seq, arrivedAtMs: q.arrivedAtMs, timeoutAtMs: q.timeoutAtMs, timedOut: q.timedOut })) };
  }
  return { ...state, queues };
}
