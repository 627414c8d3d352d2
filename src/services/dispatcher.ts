/**
 * The dispatcher process: admission, micro-batching and scheduling. It merges requests, heartbeats,
 * telemetry, anomaly alerts, worker reports, manifests and a liveness tick into one ordered stream,
 * drives the batcher and scheduler deciders with it, and carries out their decisions: formed batches
 * to the chosen worker, rejections to the client, every decision to scheduler.events.
 *
 * Delivery: a request's Kafka offset is acked only when the request is finished (its batch reported
 * done, or the request rejected). A crash re-delivers unfinished requests, which may then run twice;
 * clients drop the duplicate result by request id.
 */
import { randomUUID } from 'node:crypto';
import { asyncScheduler, from, interval, map, merge, Subject, Subscription, switchMap, type Observable } from 'rxjs';
import { describeError, GpuflowError } from '../domain/errors.js';
import type {
  AnomalyAlert,
  BatchMember,
  GpuSample,
  Heartbeat,
  InferenceRequest,
  InferenceResult,
  ModelManifest,
  SchedulerEvent,
  Tensor,
  WorkerReport,
} from '../domain/events/index.js';
import type { Logger } from '../log.js';
import type { Kafka } from '../kafka/client.js';
import { avroCodec, batchCodec, codecsByTopic } from '../kafka/codecs/topic-codec.js';
import { decodeTensor } from '../kafka/codecs/tensor-codec.js';
import { consume, type ConsumerSource, type Delivery } from '../kafka/consumer-source.js';
import { createDeadLetterSink, type DeadLetterSink } from '../kafka/dead-letters.js';
import { endOffsets } from '../kafka/offsets.js';
import { createProducer, type EventProducer, type OutgoingMessage } from '../kafka/producer.js';
import type { RegistryClient } from '../kafka/registry.js';
import { batchRequests, type BatcherOutput, type BatcherSourceInput } from '../processors/batching/batch-operator.js';
import { createBatcher } from '../processors/batching/batcher.js';
import type { QueuePolicy } from '../processors/batching/queue-policy.js';
import { isDecision, type SchedulerFact } from '../processors/scheduling/facts.js';
import type { SchedulerInput } from '../processors/scheduling/inputs.js';
import { createScheduler } from '../processors/scheduling/scheduler.js';
import type { SchedulerConfig } from '../processors/scheduling/config.js';

export interface DispatcherOptions {
  groupId: string;
  tickMs: number;
  /** Unfinished requests held at most; beyond it consumption of requests pauses. */
  maxInFlightRequests: number;
  queuePolicy?: Partial<QueuePolicy>;
  scheduler?: Partial<SchedulerConfig>;
  /** How soon the group notices a dispatcher that died and hands its partitions to another. */
  sessionTimeoutMs?: number;
  /** A new deployment group starts at the end of the input topics instead of their beginning. */
  startAtEnd?: boolean;
}

export interface DispatcherStats {
  admitted: number;
  rejected: number;
  batchesFormed: number;
  batchesAssigned: number;
  batchesDone: number;
  /** Requests waiting in the batcher or in batches not yet done. */
  unfinished: number;
  batchSizes: number[];
}

export interface DispatcherHandle {
  readonly stats: DispatcherStats;
  /** Every decision, as it is made. */
  readonly decisions$: Observable<SchedulerEvent>;
  stop(): Promise<void>;
}

const TOPICS = {
  requests: 'inference.requests',
  heartbeats: 'gpu.heartbeats',
  telemetry: 'gpu.telemetry',
  anomalies: 'gpu.anomalies',
  reports: 'worker.reports',
  manifests: 'models.manifests',
  batches: 'inference.batches',
  decisions: 'scheduler.events',
} as const;

/** Everything the dispatcher knows about a request until it is finished. */
interface Held {
  request: InferenceRequest;
  tensor: Tensor;
  /** The delivery's ack alone: holding the delivery would hold its raw message too. */
  ack: () => void;
}

type Input =
  | { kind: 'request'; d: Delivery<InferenceRequest> }
  | { kind: 'heartbeat'; d: Delivery<Heartbeat> }
  | { kind: 'telemetry'; d: Delivery<GpuSample> }
  | { kind: 'anomaly'; d: Delivery<AnomalyAlert> }
  | { kind: 'report'; d: Delivery<WorkerReport> }
  | { kind: 'manifest'; d: Delivery<ModelManifest> }
  | { kind: 'tick'; atMs: number };

const EMPTY = new Uint8Array(0);

const refOf = (d: Delivery<unknown>): string => `${d.topic}:${d.partition}:${d.offset}`;

export async function startDispatcher(kafka: Kafka, registry: RegistryClient, logger: Logger, options: DispatcherOptions): Promise<DispatcherHandle> {
  const log = logger.child({ service: 'dispatcher' });
  const producer: EventProducer = await createProducer(kafka);
  const deadLetters: DeadLetterSink = createDeadLetterSink(producer, codecsByTopic(registry, 'dead-letter'));
  const codecs = {
    requests: await avroCodec(registry, TOPICS.requests, 'inference-request'),
    heartbeats: await avroCodec(registry, TOPICS.heartbeats, 'heartbeat'),
    telemetry: await avroCodec(registry, TOPICS.telemetry, 'gpu-sample'),
    anomalies: await avroCodec(registry, TOPICS.anomalies, 'anomaly-alert'),
    reports: await avroCodec(registry, TOPICS.reports, 'worker-report'),
    manifests: await avroCodec(registry, TOPICS.manifests, 'model-manifest'),
    decisions: await avroCodec(registry, TOPICS.decisions, 'scheduler-event'),
    batches: batchCodec(TOPICS.batches),
  };
  const resultCodec = codecsByTopic(registry, 'inference-result');

  const stats: DispatcherStats = { admitted: 0, rejected: 0, batchesFormed: 0, batchesAssigned: 0, batchesDone: 0, unfinished: 0, batchSizes: [] };
  const decisions$ = new Subject<SchedulerEvent>();
  const held = new Map<string, Held>();
  const batchMembers = new Map<string, string[]>();
  /** Members of each formed batch not yet finished; when none are left the batch's slot is free again. */
  const openBatches = new Map<string, Set<string>>();
  const batchOfRequest = new Map<string, string>();
  const manifests = new Map<string, ModelManifest>();
  const scheduler = createScheduler({ config: options.scheduler ?? {} });
  let state = scheduler.initialState();
  // Output keeps the order of decisions: encodings are chained, and each send is handed to the
  // producer (which keeps its queue's order) without waiting for the broker's ack.
  let encoding: Promise<void> = Promise.resolve();
  const unacked = new Set<Promise<void>>();
  const later = (what: string, encode: () => Promise<{ topic: string; messages: OutgoingMessage[] }>): void => {
    encoding = encoding.then(async () => {
      const { topic, messages } = await encode();
      const sent = producer.send(topic, messages).catch((error: unknown) => log.error('dispatcher.send_failed', { what, error: describeError(error) }));
      unacked.add(sent);
      void sent.finally(() => unacked.delete(sent));
    }).catch((error: unknown) => log.error('dispatcher.encode_failed', { what, error: describeError(error) }));
  };

  function publish(event: SchedulerEvent): void {
    decisions$.next(event);
    later('decision', async () => ({ topic: TOPICS.decisions, messages: [{ key: 'model' in event ? event.model : event.workerId, value: await codecs.decisions.encode(event) }] }));
  }

  /** Done with a request (answered by a worker, or rejected): ack it; the last of a batch frees its slot. */
  function finish(requestId: string): void {
    const h = held.get(requestId);
    if (!h) return;
    held.delete(requestId);
    stats.unfinished = held.size;
    h.ack();
    const batchId = batchOfRequest.get(requestId);
    if (batchId === undefined) return;
    batchOfRequest.delete(requestId);
    const rest = openBatches.get(batchId);
    rest?.delete(requestId);
    if (rest && rest.size === 0) {
      openBatches.delete(batchId);
      batchMembers.delete(batchId);
      batcherIn.next({ type: 'CapacityAvailable', slots: 1, inputRef: `batch-closed:${batchId}` });
    }
  }

  function reject(request: InferenceRequest, reason: string): void {
    stats.rejected++;
    later('rejection', async () => {
      const codec = await resultCodec(request.replyTo);
      const result: InferenceResult = {
        requestId: request.requestId, tenant: request.tenant, model: request.model, modelVersion: request.modelVersion, sloClass: request.sloClass,
        status: 'REJECTED', reason, batchId: '', workerId: '', workerEpoch: 0, output: new Uint8Array(0),
        latency: { queueUs: Math.max(0, (Date.now() - request.submittedAtMs) * 1000), batchUs: 0, transferUs: 0, computeUs: 0 },
        deadlineMs: request.deadlineMs, completedAtMs: Date.now(), simulated: false,
      };
      return { topic: request.replyTo, messages: [{ key: request.tenant, value: await codec.encode(result) }] };
    });
  }

  // The batcher: an RxJS operator over its own input subject, timers on the async scheduler.
  const batcherIn = new Subject<BatcherSourceInput>();
  const batcher = createBatcher({ defaults: options.queuePolicy ?? {} });
  const subscriptions = new Subscription();
  subscriptions.add(
    batcherIn.pipe(batchRequests({ batcher, scheduler: asyncScheduler })).subscribe({
      next: (out: BatcherOutput) => onBatcherOutput(out),
      error: (error: unknown) => log.error('dispatcher.batcher_failed', { error: describeError(error) }),
    }),
  );

  function onBatcherOutput(out: BatcherOutput): void {
    if (out.type === 'RequestRejected') {
      publish(out.event);
      const h = held.get(out.event.requestId);
      if (h) reject(h.request, out.event.reason);
      finish(out.event.requestId);
      return;
    }
    const formed = out.event;
    publish(formed);
    stats.batchesFormed++;
    stats.batchSizes.push(formed.requestIds.length);
    batchMembers.set(formed.batchId, [...formed.requestIds]);
    openBatches.set(formed.batchId, new Set(formed.requestIds));
    for (const id of formed.requestIds) batchOfRequest.set(id, formed.batchId);
    const manifest = manifests.get(formed.model);
    applyScheduler({
      type: 'BatchReady',
      inputRef: formed.inputs[0] ?? `batch:${formed.batchId}`,
      batch: {
        batchId: formed.batchId, model: formed.model, modelVersion: formed.modelVersion,
        memoryPerSampleBytes: manifest?.memoryPerSampleBytes ?? 0,
        members: out.requests.map((r) => ({ requestId: r.requestId, tenant: r.tenant, sloClass: r.sloClass, deadlineMs: r.deadlineMs })),
      },
    });
  }

  function applyScheduler(input: SchedulerInput): void {
    const facts: readonly SchedulerFact[] = scheduler.decide(state, input, Date.now());
    for (const fact of facts) {
      state = scheduler.evolve(state, fact);
      if (isDecision(fact)) onDecision(fact);
    }
  }

  function onDecision(event: SchedulerEvent): void {
    publish(event);
    switch (event.type) {
      case 'BatchAssigned':
        stats.batchesAssigned++;
        sendBatch(event.batchId, event.workerId, event.workerEpoch, event.deviceUuid);
        break;
      case 'BatchCompleted':
        stats.batchesDone++;
        for (const id of [...(batchMembers.get(event.batchId) ?? [])]) finish(id);
        break;
      case 'RequestRejected': {
        const h = held.get(event.requestId);
        if (h) reject(h.request, event.reason);
        finish(event.requestId);
        break;
      }
      case 'WorkerJoined':
        batcherIn.next({ type: 'CapacityAvailable', slots: workerSlots(event.workerId), inputRef: event.inputs[0] ?? 'joined' });
        break;
      default:
        break;
    }
  }

  const lastCapacity = new Map<string, number>();
  const workerSlots = (workerId: string): number => Math.max(1, lastCapacity.get(workerId) ?? 1);

  function sendBatch(batchId: string, workerId: string, workerEpoch: number, deviceUuid: string): void {
    const ids = batchMembers.get(batchId) ?? [];
    const members = ids.map((id) => held.get(id)).filter((h): h is Held => h !== undefined);
    if (members.length === 0) return;
    const first = members[0]!;
    const rowBytes = first.tensor.data.byteLength;
    // One contiguous [N, ...] buffer: the only copy of the inputs between client and GPU.
    const data = new Uint8Array(rowBytes * members.length);
    members.forEach((h, i) => data.set(h.tensor.data, i * rowBytes));
    const batchMembersOut: BatchMember[] = members.map(({ request: r }) => ({
      requestId: r.requestId, tenant: r.tenant, sloClass: r.sloClass, deadlineMs: r.deadlineMs, submittedAtMs: r.submittedAtMs, replyTo: r.replyTo, traceparent: r.traceparent,
    }));
    const rowShape = first.tensor.shape[0] === 1 ? first.tensor.shape.slice(1) : first.tensor.shape;
    later('batch', async () => {
      const value = await codecs.batches.encode({
        batchId, model: first.request.model, modelVersion: first.request.modelVersion, workerId, workerEpoch, deviceUuid, formedAtMs: Date.now(),
        members: batchMembersOut, dtype: first.tensor.dtype, shape: [members.length, ...rowShape], data,
      });
      return { topic: TOPICS.batches, messages: [{ key: workerId, value }] };
    });
  }

  /** Admission checks the decoded tensor against the manifest before the batcher sees the request. */
  function admit(d: Delivery<InferenceRequest>): void {
    const received = d.value;
    if (held.has(received.requestId)) {
      d.ack(); // a re-delivery of a request already being handled
      return;
    }
    let tensor: Tensor;
    try {
      const view = decodeTensor(received.tensor);
      // Own copies of the few input bytes, so a queued request does not pin the Kafka fetch buffer it came in.
      tensor = { dtype: view.dtype, shape: view.shape, data: view.data.slice() };
    } catch (error) {
      reject(received, `bad input tensor: ${describeError(error)}`);
      d.ack();
      return;
    }
    const request: InferenceRequest = { ...received, tensor: EMPTY };
    const manifest = manifests.get(request.model);
    if (manifest) {
      const rowShape = tensor.shape[0] === 1 ? tensor.shape.slice(1) : tensor.shape;
      if (tensor.dtype !== manifest.dtype || rowShape.join(',') !== manifest.inputShape.join(',')) {
        reject(request, `input ${tensor.dtype}[${tensor.shape.join(', ')}] does not match ${manifest.model}:${manifest.version}, which takes ${manifest.dtype}[${manifest.inputShape.join(', ')}]`);
        d.ack();
        return;
      }
    }
    held.set(request.requestId, { request, tensor, ack: d.ack });
    stats.admitted++;
    stats.unfinished = held.size;
    batcherIn.next({ type: 'RequestArrived', request, inputRef: refOf(d) });
  }

  function onInput(input: Input): void {
    switch (input.kind) {
      case 'request':
        admit(input.d);
        return;
      case 'manifest':
        if (BigInt(input.d.offset) + 1n >= BigInt(manifestEnds.get(input.d.partition) ?? '0')) manifestsBehind.delete(input.d.partition);
        if (manifestsBehind.size === 0) manifestsRead();
        manifests.set(input.d.value.model, input.d.value);
        batcherIn.next({ type: 'ManifestUpdated', manifest: input.d.value, memoryBudgetBytes: Infinity, inputRef: refOf(input.d) });
        input.d.ack();
        return;
      case 'heartbeat':
        lastCapacity.set(input.d.value.workerId, input.d.value.capacity);
        applyScheduler({ type: 'HeartbeatReceived', inputRef: refOf(input.d), heartbeat: input.d.value });
        input.d.ack();
        return;
      case 'telemetry':
        applyScheduler({ type: 'TelemetryReceived', inputRef: refOf(input.d), sample: input.d.value });
        input.d.ack();
        return;
      case 'anomaly':
        log.info('dispatcher.anomaly', { deviceUuid: input.d.value.deviceUuid, state: input.d.value.state, reason: input.d.value.reason });
        applyScheduler({ type: 'AnomalyReceived', inputRef: refOf(input.d), alert: input.d.value });
        input.d.ack();
        return;
      case 'report': {
        const r = input.d.value;
        if (r.type === 'BatchDone') {
          batcherIn.next({ type: 'BatchObserved', model: r.model, modelVersion: r.modelVersion, batchSize: r.batchSize, serviceTimeMs: r.serviceTimeUs / 1000, inputRef: refOf(input.d) });
          applyScheduler({ type: 'BatchCompleted', inputRef: refOf(input.d), batchId: r.batchId, workerId: r.workerId, workerEpoch: r.workerEpoch, serviceTimeUs: r.serviceTimeUs });
        } else if (r.retriable) {
          applyScheduler({ type: 'BatchFailed', inputRef: refOf(input.d), batchId: r.batchId, workerId: r.workerId, workerEpoch: r.workerEpoch, reason: r.reason });
        } else {
          // The batch itself is wrong: retrying elsewhere cannot help.
          for (const id of [...(batchMembers.get(r.batchId) ?? [])]) {
            const h = held.get(id);
            if (h) reject(h.request, r.reason);
            finish(id);
          }
          applyScheduler({ type: 'BatchCompleted', inputRef: refOf(input.d), batchId: r.batchId, workerId: r.workerId, workerEpoch: r.workerEpoch, serviceTimeUs: 0 });
        }
        input.d.ack();
        return;
      }
      case 'tick':
        applyScheduler({ type: 'Tick', inputRef: `tick:${input.atMs}` });
        return;
    }
  }

  const ends = new Map<string, Map<number, string>>();
  if (options.startAtEnd) for (const t of [TOPICS.requests, TOPICS.reports]) ends.set(t, await endOffsets(kafka, t));
  const source = <T>(topic: string, codec: { decode(b: Buffer): Promise<T> }, extra: { fromBeginning?: boolean; maxInFlight?: number } = {}): ConsumerSource<T> =>
    consume<T>(kafka, {
      groupId: `${options.groupId}.${topic}`, topics: [topic], decode: (b) => codec.decode(b), deadLetters, logger: log,
      startAt: (t, p) => ends.get(t)?.get(p), sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000, ...extra,
    });
  // Manifests are state: every process reads all of them (its own group, from the start), and
  // requests wait until they are read, so that no request meets an empty model table.
  const manifestEnds = await endOffsets(kafka, TOPICS.manifests);
  const manifestsBehind = new Set([...manifestEnds].filter(([, end]) => end !== '0').map(([p]) => p));
  let manifestsRead!: () => void;
  const manifestsReady = new Promise<void>((r) => (manifestsRead = r));
  if (manifestsBehind.size === 0) manifestsRead();
  const sources = {
    manifests: consume<ModelManifest>(kafka, {
      groupId: `${options.groupId}.manifests.${randomUUID()}`, topics: [TOPICS.manifests], fromBeginning: true,
      decode: (b) => codecs.manifests.decode(b), deadLetters, logger: log,
    }),
    heartbeats: source(TOPICS.heartbeats, codecs.heartbeats),
    telemetry: source(TOPICS.telemetry, codecs.telemetry),
    anomalies: source(TOPICS.anomalies, codecs.anomalies),
    reports: source(TOPICS.reports, codecs.reports),
    requests: source(TOPICS.requests, codecs.requests, { fromBeginning: true, maxInFlight: options.maxInFlightRequests }),
  };
  const inputs$: Observable<Input> = merge(
    sources.manifests.deliveries$.pipe(map((d): Input => ({ kind: 'manifest', d }))),
    sources.heartbeats.deliveries$.pipe(map((d): Input => ({ kind: 'heartbeat', d }))),
    sources.telemetry.deliveries$.pipe(map((d): Input => ({ kind: 'telemetry', d }))),
    sources.anomalies.deliveries$.pipe(map((d): Input => ({ kind: 'anomaly', d }))),
    sources.reports.deliveries$.pipe(map((d): Input => ({ kind: 'report', d }))),
    from(manifestsReady).pipe(switchMap(() => sources.requests.deliveries$), map((d): Input => ({ kind: 'request', d }))),
    interval(options.tickMs).pipe(map((): Input => ({ kind: 'tick', atMs: Date.now() }))),
  );
  subscriptions.add(
    inputs$.subscribe({
      next: (input) => {
        try {
          onInput(input);
        } catch (error) {
          // A decision that throws is a bug; log it with the input and keep serving the rest.
          log.error('dispatcher.input_failed', { kind: input.kind, error: describeError(error), retriable: error instanceof GpuflowError && error.retriable });
        }
      },
      error: (error: unknown) => log.error('dispatcher.source_failed', { error: describeError(error) }),
    }),
  );
  log.info('dispatcher.started', { groupId: options.groupId });

  return {
    stats,
    decisions$: decisions$.asObservable(),
    async stop() {
      // Requests not finished are not acked: the next dispatcher gets them again.
      await sources.requests.close();
      await Promise.all([sources.manifests, sources.heartbeats, sources.telemetry, sources.anomalies, sources.reports].map((s) => s.close()));
      subscriptions.unsubscribe();
      await encoding;
      await Promise.all(unacked);
      await producer.disconnect();
      decisions$.complete();
      log.info('dispatcher.stopped', { unfinished: held.size });
    },
  };
}
