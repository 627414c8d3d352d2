/**
 * The dispatcher's decision-making without its I/O, in one place: the batcher (through the
 * batchRequests operator) and the scheduler, wired together. Formed batches go to the scheduler;
 * joined workers and closed batches give the batcher capacity; completions and rejections finish
 * requests. The live dispatcher (src/services/dispatcher.ts) drives it on a clock whose time is
 * each turn's, replay and what-if drive it on a virtual clock, so all three decide the same way.
 *
 * Time comes from the clock given (a SchedulerLike): the scheduler decides at `clock.now()`, and
 * the batcher's timers are scheduled on it. A caller applies one input per turn, after setting
 * the turn's time; the core emits every decision, in the order it was made, and tells the caller
 * which held requests were rejected and which are finished.
 *
 * `H` is what the caller keeps for each held request (the live process: its tensor, its ack and
 * its span; replay: nothing), held here in the one map of unfinished requests.
 *
 * @example
 * const core = createDispatcherCore<void>({ clock, effects: { decided: publish, rejected: () => {}, finished: () => {}, failed: log } });
 * core.apply({ kind: 'manifest', ref: 'models.manifests:0:0', manifest });
 * core.admit({ ref: 'inference.requests:0:7', request, held: undefined });
 */
import { Subject, type SchedulerLike } from 'rxjs';
import type { AnomalyAlert, GpuSample, Heartbeat, InferenceRequest, ModelManifest, RequestRejected, SchedulerEvent, WorkerReport } from '../../domain/events/index.js';
import { batchRequests, type BatcherOutput, type BatcherSourceInput } from '../batching/batch-operator.js';
import { createBatcher } from '../batching/batcher.js';
import type { QueuePolicy } from '../batching/queue-policy.js';
import type { SchedulerConfig } from '../scheduling/config.js';
import { isDecision } from '../scheduling/facts.js';
import type { SchedulerInput } from '../scheduling/inputs.js';
import { createScheduler } from '../scheduling/scheduler.js';
import { step } from '../../domain/decider.js';
import { requestKey, routeRequest, routedVersions } from '../traffic/route.js';
import { createRolloutGuard, isAborted, type RolloutGuardInput } from '../traffic/rollout-guard.js';
import type { RolloutGuardConfig } from '../traffic/rollout-guard-config.js';
import { shadowCopy } from '../traffic/shadow-copy.js';

/** An input other than a request; `ref` names its source ('topic:partition:offset' or 'tick:<ms>'). */
export type SignalInput =
  | { kind: 'manifest'; ref: string; manifest: ModelManifest }
  /** The model's tombstone on models.manifests. */
  | { kind: 'retired'; ref: string; model: string }
  | { kind: 'heartbeat'; ref: string; heartbeat: Heartbeat }
  | { kind: 'telemetry'; ref: string; sample: GpuSample }
  | { kind: 'anomaly'; ref: string; alert: AnomalyAlert }
  | { kind: 'report'; ref: string; report: WorkerReport }
  | { kind: 'tick'; ref: string };

/** A request that passed admission, with what the caller keeps for it until it is finished. */
export interface Admitted<H> {
  ref: string;
  request: InferenceRequest;
  held: H;
}

/** What the core asks its caller to carry out. Each is called synchronously, in decision order. */
export interface DispatcherEffects<H> {
  /** Every decision, in the order it was made (the order to publish it in). */
  decided(event: SchedulerEvent): void;
  /** A held request is to be answered with a rejection; `finished` follows. */
  rejected(held: H, request: string, reason: string): void;
  /** A held request is done (its batch finished, or it was rejected): its input may be acked. */
  finished(held: H, request: string): void;
  /** The batcher failed: it forms no further batch. */
  failed(error: unknown): void;
}

export interface DispatcherCoreOptions<H> {
  /** Time of the current turn, and where the batcher's timer is scheduled. */
  clock: SchedulerLike;
  queuePolicy?: Partial<QueuePolicy>;
  scheduler?: Partial<SchedulerConfig>;
  /** When a canary is rolled back (src/processors/traffic/rollout-guard-config.ts). */
  rollout?: Partial<RolloutGuardConfig>;
  /**
   * What to hold for the shadow copy of a request, given the original's; by default the original's
   * own (right for callers that hold nothing per request, such as replay).
   */
  shadowOf?: (held: H, copy: InferenceRequest) => H;
  /**
   * Appended to every batch id this core forms. The batcher numbers batches from 1 in each core, so
   * where several cores decide for the same models over time (instances sharing the work, a core
   * rebuilt after a rebalance) a suffix unique to the core keeps ids, and the reports that name
   * them, apart. None by default.
   */
  batchIdSuffix?: string;
  effects: DispatcherEffects<H>;
}

export interface DispatcherCore<H> {
  /** Takes a request that passed admission; one already held is ignored. */
  admit(input: Admitted<H>): void;
  apply(input: SignalInput): void;
  /** Whether a request is held (admitted and not finished). */
  holds(requestId: string): boolean;
  heldOf(requestId: string): H | undefined;
  /** What is held for every unfinished request (for a caller that lets them all go at once). */
  heldAll(): H[];
  /**
   * A formed batch not yet finished: when it formed, the version its requests asked for ('' for
   * whatever the worker's current version is: stable traffic), and what is held for its unfinished
   * members, in batch order.
   */
  openBatch(batchId: string): { formedAtMs: number; modelVersion: string; members: H[] } | undefined;
  /** Requests admitted and not finished. */
  readonly unfinished: number;
  close(): void;
}

export function createDispatcherCore<H>(options: DispatcherCoreOptions<H>): DispatcherCore<H> {
  const { clock, effects } = options;
  const held = new Map<string, H>();
  /** Members of each formed batch not yet finished; when none is left the batch's slot is free again. */
  const openBatches = new Map<string, { readonly ids: readonly string[]; readonly tenants: readonly string[]; readonly formedAtMs: number; readonly modelVersion: string; open: number }>();
  const batchOfRequest = new Map<string, string>();
  const manifests = new Map<string, ModelManifest>();
  const lastCapacity = new Map<string, number>();
  /** Slots each member worker gave the batcher when it joined. */
  const granted = new Map<string, number>();
  // The batcher only ever gains capacity. Slots of an evicted worker are taken back by keeping
  // the slots of that many closing batches, so the batcher does not form batches for a worker
  // that is gone (they would wait in the scheduler, unplaced, instead of in the batcher's queue).
  let slotDebt = 0;
  const scheduler = createScheduler({ config: options.scheduler ?? {} });
  let state = scheduler.initialState();
  // Traffic: each request is stamped with the version it is routed to; the guard watches how the
  // stable and canary versions serve and rolls the canary back when it falls behind.
  const guard = createRolloutGuard(options.rollout ?? {});
  let guardState = guard.initialState();
  /**
   * Routed (not shadow) requests not yet finished, admitted while their model had a live canary:
   * the version they went to and their deadline.
   */
  const routed = new Map<string, { model: string; version: string; deadlineMs: number }>();

  function observe(input: RolloutGuardInput): void {
    const { state: next, events } = step(guard, guardState, input, clock.now());
    guardState = next;
    for (const event of events) if (event.type === 'RolloutAborted') effects.decided(event);
  }

  /** The outcome of a routed request, for the guard. */
  function outcome(requestId: string, inputRef: string, failed: boolean, doneAtMs: number): void {
    const r = routed.get(requestId);
    if (r === undefined) return;
    observe({ type: 'OutcomeObserved', inputRef, model: r.model, version: r.version, failed, metDeadline: !failed && doneAtMs <= r.deadlineMs });
  }

  function reject(requestId: string, reason: string): void {
    if (held.has(requestId)) effects.rejected(held.get(requestId) as H, requestId, reason);
  }

  function finish(requestId: string): void {
    if (!held.has(requestId)) return;
    const h = held.get(requestId) as H;
    held.delete(requestId);
    routed.delete(requestId);
    effects.finished(h, requestId);
    const batchId = batchOfRequest.get(requestId);
    if (batchId === undefined) return;
    batchOfRequest.delete(requestId);
    const batch = openBatches.get(batchId);
    if (batch !== undefined && --batch.open === 0) {
      openBatches.delete(batchId);
      if (slotDebt > 0) slotDebt--;
      else batcherIn.next({ type: 'CapacityAvailable', slots: 1, inputRef: `batch-closed:${batchId}` });
    }
  }

  /** A RequestRejected decision, already published: the request fails, is answered with the reason, and is done. */
  function carryOutRejection(event: RequestRejected): void {
    outcome(event.requestId, event.inputs[0] ?? 'rejected', true, event.atMs);
    reject(event.requestId, event.reason);
    finish(event.requestId);
  }

  const finishBatch = (batchId: string): void => {
    for (const id of openBatches.get(batchId)?.ids ?? []) finish(id);
  };

  const batcherIn = new Subject<BatcherSourceInput>();
  const batcher = createBatcher({ defaults: options.queuePolicy ?? {} });
  const subscription = batcherIn.pipe(batchRequests({ batcher, scheduler: clock })).subscribe({
    next: (out) => onBatcherOutput(out),
    error: (error: unknown) => effects.failed(error),
  });

  function onBatcherOutput(out: BatcherOutput): void {
    if (out.type === 'RequestRejected') {
      effects.decided(out.event);
      carryOutRejection(out.event);
      return;
    }
    const formed = options.batchIdSuffix ? { ...out.event, batchId: `${out.event.batchId}${options.batchIdSuffix}` } : out.event;
    effects.decided(formed);
    openBatches.set(formed.batchId, { ids: formed.requestIds, tenants: out.requests.map((q) => q.tenant), formedAtMs: formed.atMs, modelVersion: out.requests[0]?.modelVersion ?? '', open: formed.requestIds.length });
    for (const id of formed.requestIds) batchOfRequest.set(id, formed.batchId);
    applyScheduler({
      type: 'BatchReady',
      inputRef: formed.inputs[0] ?? `batch:${formed.batchId}`,
      batch: {
        batchId: formed.batchId, model: formed.model, modelVersion: formed.modelVersion,
        memoryPerSampleBytes: manifests.get(formed.model)?.memoryPerSampleBytes ?? 0,
        members: out.requests.map((r) => ({ requestId: r.requestId, tenant: r.tenant, sloClass: r.sloClass, deadlineMs: r.deadlineMs })),
      },
    });
  }

  // Carrying out a decision can feed the scheduler again before the decision's own facts are all
  // folded in (a completion frees a batch's slot, the batcher forms the next batch at once, and
  // that batch is ready). Such inputs wait until the current one is done: deciding on a state
  // that lags its own facts placed the same pending batch twice.
  const schedulerInputs: SchedulerInput[] = [];
  let deciding = false;

  function applyScheduler(input: SchedulerInput): void {
    schedulerInputs.push(input);
    if (deciding) return;
    deciding = true;
    try {
      for (let next = schedulerInputs.shift(); next !== undefined; next = schedulerInputs.shift()) {
        for (const fact of scheduler.decide(state, next, clock.now())) {
          state = scheduler.evolve(state, fact);
          if (isDecision(fact)) onDecision(fact);
        }
      }
    } finally {
      deciding = false;
    }
  }

  function onDecision(event: SchedulerEvent): void {
    effects.decided(event);
    switch (event.type) {
      case 'BatchCompleted':
        finishBatch(event.batchId);
        break;
      case 'RequestRejected':
        carryOutRejection(event);
        break;
      case 'WorkerJoined': {
        const slots = Math.max(1, lastCapacity.get(event.workerId) ?? 1);
        granted.set(event.workerId, slots);
        batcherIn.next({ type: 'CapacityAvailable', slots, inputRef: event.inputs[0] ?? 'joined' });
        break;
      }
      case 'WorkerEvicted':
        slotDebt += granted.get(event.workerId) ?? 0;
        granted.delete(event.workerId);
        break;
      default:
        break;
    }
  }

  function apply(input: SignalInput): void {
    switch (input.kind) {
      case 'manifest': {
        const m = input.manifest;
        manifests.set(m.model, m);
        // A queue per routed version; the stable one last, as the batcher routes unversioned requests to the latest.
        for (const version of routedVersions(m).reverse()) {
          const weightsUri = version === m.version ? m.weightsUri : (m.weightsByVersion?.[version] ?? m.weightsUri);
          batcherIn.next({ type: 'ManifestUpdated', manifest: { ...m, version, weightsUri }, memoryBudgetBytes: Infinity, inputRef: input.ref });
        }
        observe({ type: 'ManifestSeen', inputRef: input.ref, manifest: m });
        return;
      }
      case 'retired':
        manifests.delete(input.model);
        batcherIn.next({ type: 'ModelRetired', model: input.model, inputRef: input.ref });
        return;
      case 'heartbeat':
        lastCapacity.set(input.heartbeat.workerId, input.heartbeat.capacity);
        applyScheduler({ type: 'HeartbeatReceived', inputRef: input.ref, heartbeat: input.heartbeat });
        return;
      case 'telemetry':
        applyScheduler({ type: 'TelemetryReceived', inputRef: input.ref, sample: input.sample });
        return;
      case 'anomaly':
        applyScheduler({ type: 'AnomalyReceived', inputRef: input.ref, alert: input.alert });
        return;
      case 'report': {
        const r = input.report;
        if (r.type === 'BatchDone') {
          for (const id of openBatches.get(r.batchId)?.ids ?? []) outcome(id, input.ref, false, r.timestampMs);
          batcherIn.next({ type: 'BatchObserved', model: r.model, modelVersion: r.modelVersion, batchSize: r.batchSize, serviceTimeMs: r.serviceTimeUs / 1000, inputRef: input.ref });
          applyScheduler({ type: 'BatchCompleted', inputRef: input.ref, batchId: r.batchId, workerId: r.workerId, workerEpoch: r.workerEpoch, serviceTimeUs: r.serviceTimeUs });
        } else if (r.retriable) {
          for (const id of openBatches.get(r.batchId)?.ids ?? []) outcome(id, input.ref, true, r.timestampMs);
          applyScheduler({ type: 'BatchFailed', inputRef: input.ref, batchId: r.batchId, workerId: r.workerId, workerEpoch: r.workerEpoch, reason: r.reason });
        } else {
          // The batch itself is wrong: retrying elsewhere cannot help. Each member still waiting is
          // rejected, and the rejection is a decision like any other.
          const batch = openBatches.get(r.batchId);
          batch?.ids.forEach((id, i) => {
            if (!held.has(id)) return;
            const rejected: RequestRejected = { type: 'RequestRejected', atMs: clock.now(), inputs: [input.ref], requestId: id, model: r.model, tenant: batch.tenants[i]!, reason: r.reason, leavesBatch: true };
            effects.decided(rejected);
            carryOutRejection(rejected);
          });
          applyScheduler({ type: 'BatchCompleted', inputRef: input.ref, batchId: r.batchId, workerId: r.workerId, workerEpoch: r.workerEpoch, serviceTimeUs: 0 });
        }
        return;
      }
      case 'tick':
        applyScheduler({ type: 'Tick', inputRef: input.ref });
        return;
    }
  }

  return {
    admit({ ref, request, held: h }) {
      if (held.has(request.requestId)) return;
      const manifest = manifests.get(request.model);
      if (manifest === undefined) {
        // No manifest: the batcher rejects it with the reason.
        held.set(request.requestId, h);
        batcherIn.next({ type: 'RequestArrived', request, inputRef: ref });
        return;
      }
      // Most models have neither canary nor shadow: their requests keep the version they ask for
      // (stable when none), with no routing key to build and hash.
      const choice = routesPlainly(manifest) ? null : routeRequest(manifest, requestKey(request), isAborted(guardState, request.model), request.modelVersion);
      // Only canary traffic is stamped: stable traffic keeps asking for the current version, so a
      // batch formed just before a hot swap runs on whichever version the worker has.
      const stamped: InferenceRequest = choice?.canary ? { ...request, modelVersion: choice.version } : request;
      held.set(request.requestId, h);
      // The guard weighs outcomes only while the model has a live canary: only then are they kept.
      const rollout = guardState.models[request.model];
      if (choice !== null && rollout !== undefined && rollout.canaryVersion !== '' && !rollout.aborted) {
        routed.set(request.requestId, { model: request.model, version: choice.version, deadlineMs: request.deadlineMs });
      }
      batcherIn.next({ type: 'RequestArrived', request: stamped, inputRef: ref });
      if (choice !== null && choice.shadowVersion !== null) {
        const copy = shadowCopy(request, choice.shadowVersion);
        if (held.has(copy.requestId)) return;
        held.set(copy.requestId, options.shadowOf ? options.shadowOf(h, copy) : h);
        batcherIn.next({ type: 'RequestArrived', request: copy, inputRef: ref });
      }
    },
    apply,
    holds: (requestId) => held.has(requestId),
    heldOf: (requestId) => held.get(requestId),
    heldAll: () => [...held.values()],
    openBatch(batchId) {
      const batch = openBatches.get(batchId);
      if (batch === undefined) return undefined;
      const members: H[] = [];
      for (const id of batch.ids) if (held.has(id)) members.push(held.get(id) as H);
      return { formedAtMs: batch.formedAtMs, modelVersion: batch.modelVersion, members };
    },
    get unfinished() {
      return held.size;
    },
    close: () => subscription.unsubscribe(),
  };
}

/** Whether a manifest sends every request to the version it names, else stable: no canary, no shadow. */
function routesPlainly(m: ModelManifest): boolean {
  const canary = m.canaryVersion ?? '';
  const shadow = m.shadowVersion ?? '';
  return (canary === '' || canary === m.version) && (shadow === '' || shadow === m.version);
}
