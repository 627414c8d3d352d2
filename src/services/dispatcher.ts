/**
 * The dispatcher process: admission, micro-batching and scheduling. It merges requests, heartbeats,
 * telemetry, anomaly alerts, worker reports, manifests and a liveness tick into one ordered stream,
 * drives the dispatcher core (the batcher and scheduler wired together, the same core that replay
 * and what-if drive) with it, and carries out its decisions: formed batches to the chosen worker,
 * rejections to the client, every decision to scheduler.events.
 *
 * Delivery: a request's Kafka offset is acked only when the request is finished (its batch reported
 * done, or the request rejected). A crash re-delivers unfinished requests, which may then run twice;
 * clients drop the duplicate result by request id.
 */
import { randomUUID } from 'node:crypto';
import { INVALID_SPAN_CONTEXT, isSpanContextValid, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Link, type Span } from '@opentelemetry/api';
import { EMPTY as NOTHING, from, interval, map, merge, Subject, Subscription, switchMap, type Observable } from 'rxjs';
import { ConfigError, describeError, GpuflowError } from '../domain/errors.js';
import type {
  AnomalyAlert,
  BatchMember,
  GpuSample,
  Heartbeat,
  InferenceRequest,
  InferenceResult,
  ManifestRecord,
  ModelManifest,
  RolloutAborted,
  SchedulerEvent,
  Tensor,
  WorkerReport,
} from '../domain/events/index.js';
import { requestFieldProblem } from '../domain/events/request.js';
import { sameShape } from '../domain/events/tensor.js';
import { isRetirement } from '../domain/events/manifest.js';
import type { Logger } from '../log.js';
import type { Kafka } from '../kafka/client.js';
import { avroCodec, batchCodec, codecsByTopic } from '../kafka/codecs/topic-codec.js';
import { decodeTensor } from '../kafka/codecs/tensor-codec.js';
import { CatchUp } from '../kafka/catch-up.js';
import { coPartitionAssigner } from '../kafka/co-partition-assigner.js';
import { consume, type ConsumerSource, type Delivery } from '../kafka/consumer-source.js';
import { createDeadLetterSink, type DeadLetterSink } from '../kafka/dead-letters.js';
import { endOffsets } from '../kafka/offsets.js';
import { createProducer, type EventProducer, type OutgoingMessage } from '../kafka/producer.js';
import { TOPICS } from '../kafka/topic-names.js';
import { createTopicDirectory, resultRouter, TopicListingError, undeliverableResult, type ResultRoute } from '../kafka/topic-directory.js';
import type { RegistryClient } from '../kafka/registry.js';
import { retirementOf } from '../kafka/manifest-tombstone.js';
import { createRequestCompactor } from '../processors/batching/compact-request.js';
import type { QueuePolicy } from '../processors/batching/queue-policy.js';
import { SHARED_RESULTS_TOPIC } from '../stack/kafka-tenants.js';
import { createDispatcherCore, type DispatcherCore } from '../processors/dispatch/dispatcher-core.js';
import { DEFAULT_SCHEDULER_CONFIG, type SchedulerConfig } from '../processors/scheduling/config.js';
import type { RolloutGuardConfig } from '../processors/traffic/rollout-guard-config.js';
import { contextFromHeaders, traceHeaders, traceparentOf } from '../tracing/kafka-headers.js';
import { startTracing } from '../tracing/setup.js';
import { ATTR, endWithError, SPAN, tracerOf } from '../tracing/spans.js';
import { openJournal } from '../replay/journal-sink.js';
import { createPartitionOwnership, partitionedGroupOf, RebuildSuperseded, type ScaleOutOptions } from './partition-ownership.js';
import { TenantKeys } from './tenant-keys.js';
import { TurnClock } from './turn-clock.js';

export interface DispatcherOptions {
  groupId: string;
  tickMs: number;
  /** Unfinished requests held at most; beyond it consumption of requests pauses. */
  maxInFlightRequests: number;
  queuePolicy?: Partial<QueuePolicy>;
  scheduler?: Partial<SchedulerConfig>;
  /** When a canary is rolled back to stable. */
  rollout?: Partial<RolloutGuardConfig>;
  /** How soon the group notices a dispatcher that died and hands its partitions to another. */
  sessionTimeoutMs?: number;
  /** A new deployment group starts at the end of the input topics instead of their beginning. */
  startAtEnd?: boolean;
  /**
   * Rejections go to the tenant's results topic and the shared one, as the workers' results do
   * (config.tenantResultTopics), instead of the request's reply topic.
   */
  tenantResultTopics?: boolean;
  /** Admit only requests signed with their tenant's key, `DIR/TENANT.key` (config.tenantKeysDir). */
  tenantKeysDir?: string;
  /**
   * Several instances share the work by partition (docs/scheduling.md, "Scale-out"): requests and
   * reports in one consumer group that hands out share groups of partitions, everything else read
   * whole by each instance, state rebuilt from scheduler.snapshots plus the log on each assignment.
   * Without it, each input is its own consumer group and one instance serves at a time.
   */
  scaleOut?: ScaleOutOptions;
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

/** Everything the dispatcher knows about a request until it is finished. */
interface Held {
  request: InferenceRequest;
  /** The request's input row. */
  row: Tensor;
  /** The delivery's ack alone: holding the delivery would hold its raw message too. */
  ack: () => void;
  /** The request's `dispatch` span: open until the request is batched or rejected. */
  span: Span;
}

type Input =
  | { kind: 'request'; d: Delivery<InferenceRequest> }
  | { kind: 'heartbeat'; d: Delivery<Heartbeat> }
  | { kind: 'telemetry'; d: Delivery<GpuSample> }
  | { kind: 'anomaly'; d: Delivery<AnomalyAlert> }
  | { kind: 'report'; d: Delivery<WorkerReport> }
  | { kind: 'manifest'; d: Delivery<ManifestRecord> }
  | { kind: 'tick'; atMs: number };

/** The span of every request while tracing is off: a no-op span of its own would cost an object per queued request. */
const UNTRACED = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

const refOf = (d: Delivery<unknown>): string => `${d.topic}:${d.partition}:${d.offset}`;

const tracer = tracerOf('dispatcher');

export async function startDispatcher(kafka: Kafka, registry: RegistryClient, logger: Logger, options: DispatcherOptions): Promise<DispatcherHandle> {
  const log = logger.child({ service: 'dispatcher' });
  const tracing = await startTracing({ serviceName: 'gpuflow-dispatcher' });
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
  // The topics that exist: reply topics are checked at admission; with per-tenant result topics,
  // rejections are routed to the tenant's topic as the workers route results.
  const topics = createTopicDirectory({ admin: () => kafka.admin(), relistAfterMs: 5_000 });
  await topics.list().catch((error: unknown) => log.warn('dispatcher.topics_not_listed', { error: describeError(error) }));
  const results = resultRouter(options.tenantResultTopics ? topics : null);
  const tenantKeys = options.tenantKeysDir ? new TenantKeys(options.tenantKeysDir, log) : null;
  if (tenantKeys) log.info('dispatcher.tenant_claims_checked', { keysDir: tenantKeys.dir });

  const stats: DispatcherStats = { admitted: 0, rejected: 0, batchesFormed: 0, batchesAssigned: 0, batchesDone: 0, unfinished: 0, batchSizes: [] };
  const decisions$ = new Subject<SchedulerEvent>();
  /** The models' manifests, for admission's shape check. */
  const manifests = new Map<string, ModelManifest>();
  /** What a queued request keeps: repeated strings shared, input bytes packed. */
  const compact = createRequestCompactor();
  // Every decision of a turn (one input, or one batcher timer) is made at the turn's logical time,
  // and the journal records each turn in order, so that `gpuflow replay --verify` can re-decide them.
  const startedAtMs = Date.now();
  const journal = await openJournal(kafka, producer, log, {
    type: 'started', instance: randomUUID(), atMs: startedAtMs, tickMs: options.tickMs, queuePolicy: options.queuePolicy ?? {}, scheduler: options.scheduler ?? {},
  });
  const clock = new TurnClock(startedAtMs, (atMs) => journal.wake(atMs));
  // Output keeps the order of decisions: encodings are chained, and each send is handed to the
  // producer (which keeps its queue's order) without waiting for the broker's ack. The messages of
  // one item are handed over together, so they travel in one producer request. The promise says
  // when the broker has them (or the item failed, which is logged).
  let encoding: Promise<void> = Promise.resolve();
  const unacked = new Set<Promise<void>>();
  type Outgoing = { topic: string; messages: OutgoingMessage[] };
  const later = (what: string, encode: () => Promise<Outgoing | Outgoing[]>): Promise<void> => {
    let settle!: () => void;
    const onBroker = new Promise<void>((resolve) => (settle = resolve));
    encoding = encoding
      .then(async () => {
        const sends: Promise<void>[] = [];
        for (const { topic, messages } of [await encode()].flat()) {
          const sent = producer.send(topic, messages).catch((error: unknown) => log.error('dispatcher.send_failed', { what, error: describeError(error) }));
          sends.push(sent);
          unacked.add(sent);
          void sent.finally(() => unacked.delete(sent));
        }
        void Promise.all(sends).then(() => settle());
      })
      .catch((error: unknown) => {
        log.error('dispatcher.encode_failed', { what, error: describeError(error) });
        settle();
      });
    return onBroker;
  };
  /** Rejected requests whose answer is not yet on the broker: they are acked once it is. */
  const answering = new Map<string, Promise<void>>();

  /** With scale-out, each batch's BatchAssigned on the log, by batch id: the batch is sent only after it. */
  const assignedOnLog = new Map<string, Promise<void>>();
  /** Batches waiting for their BatchAssigned to reach the broker, until they are on it themselves. */
  const batchesAwaitingLog = new Set<Promise<void>>();
  /**
   * With scale-out, a RequestRejected waits for its answer and goes in the same producer request
   * (after the answer): a takeover takes a rejected request as answered, so the decision must not
   * reach the log without the answer.
   */
  const rejectionsToAnswer = new Map<string, SchedulerEvent>();

  function publish(event: SchedulerEvent): void {
    decisions$.next(event);
    if (options.scaleOut && event.type === 'RequestRejected') {
      rejectionsToAnswer.set(event.requestId, event);
      // The core answers a rejection right after deciding it; a decision left unclaimed goes alone.
      queueMicrotask(() => {
        if (rejectionsToAnswer.delete(event.requestId)) sendDecision(event);
      });
      return;
    }
    sendDecision(event);
  }

  function sendDecision(event: SchedulerEvent): void {
    const onBroker = later('decision', async () => ({ topic: TOPICS.decisions, messages: [{ key: 'model' in event ? event.model : event.workerId, value: codecs.decisions.encode(event) }] }));
    if (options.scaleOut && event.type === 'BatchAssigned') assignedOnLog.set(event.batchId, onBroker);
  }

  /** Done with a request (answered by a worker, or rejected): ack it, a rejection once its answer is on the broker. */
  function finished(h: Held): void {
    stats.unfinished = core.unfinished;
    if (h.span.isRecording()) h.span.end();
    const answered = answering.get(h.request.requestId);
    answering.delete(h.request.requestId);
    if (answered) void answered.then(h.ack);
    else h.ack();
  }

  /** Answers a request with a rejection; resolves when the answer is on the broker. */
  function reject(request: InferenceRequest, reason: string): Promise<void> {
    stats.rejected++;
    const span = core.heldOf(request.requestId)?.span;
    if (span?.isRecording()) endWithError(span, reason);
    const decision = rejectionsToAnswer.get(request.requestId);
    rejectionsToAnswer.delete(request.requestId);
    const onBroker = later('rejection', async () => {
      const result: InferenceResult = {
        requestId: request.requestId, tenant: request.tenant, model: request.model, modelVersion: request.modelVersion, sloClass: request.sloClass,
        status: 'REJECTED', reason, batchId: '', workerId: '', workerEpoch: 0, output: new Uint8Array(0),
        latency: { queueUs: Math.max(0, (Date.now() - request.submittedAtMs) * 1000), batchUs: 0, transferUs: 0, computeUs: 0 },
        deadlineMs: request.deadlineMs, completedAtMs: Date.now(), simulated: false,
      };
      const route = await routeOf(request);
      const out: Outgoing[] = [];
      for (const topic of route.topics) {
        const value = (await resultCodec(topic)).encode(result);
        out.push({ topic, messages: [{ key: request.tenant, value }] });
        const letter = undeliverableResult(route, request.tenant, value, result.completedAtMs);
        if (letter) {
          log.warn('dispatcher.result_dead_lettered', { requestId: request.requestId, tenant: request.tenant, reason: letter.reason });
          deadLetters.send(letter).catch((error: unknown) => log.error('dispatcher.dead_letter_failed', { requestId: request.requestId, error: describeError(error) }));
        }
      }
      if (decision && 'model' in decision) out.push({ topic: TOPICS.decisions, messages: [{ key: decision.model, value: codecs.decisions.encode(decision) }] });
      return out;
    });
    answering.set(request.requestId, onBroker);
    return onBroker;
  }

  /**
   * A rejection's route, as a worker's result's. The request is already acked, so where the
   * topics cannot be listed the answer still goes out: on the shared topic, dead-lettered.
   */
  async function routeOf(request: InferenceRequest): Promise<ResultRoute> {
    try {
      return await results.routeOf(request);
    } catch (error) {
      if (!(error instanceof TopicListingError)) throw error;
      return { topics: [SHARED_RESULTS_TOPIC], undeliverable: `tenant '${request.tenant}' could not be routed: ${describeError(error)}` };
    }
  }

  /**
   * A request refused before the batcher sees it: a RequestRejected decision like the batcher's
   * and the scheduler's (projections count it), journaled as this turn so replay re-makes it, and
   * answered to the client.
   */
  function refuse(d: Delivery<InferenceRequest>, request: InferenceRequest, reason: string): void {
    const ref = refOf(d);
    const atMs = clock.now();
    journal.rejected(atMs, ref, reason);
    publish({ type: 'RequestRejected', atMs, inputs: [ref], requestId: request.requestId, model: request.model, tenant: request.tenant, reason, leavesBatch: false });
    // Not held by the core, so no `finished` follows: acked here, once the answer is on the broker.
    const answered = reject(request, reason);
    answering.delete(request.requestId);
    void answered.then(d.ack);
  }

  // The decisions: the same core that replay and what-if drive, here on the turn clock. With
  // scale-out each assignment starts a fresh core, whose batch ids carry this instance and core.
  const instanceTag = randomUUID().slice(0, 8);
  let coreSeq = 0;
  const newCore = (): DispatcherCore<Held> => createDispatcherCore<Held>({
    clock,
    ...(options.scaleOut ? { batchIdSuffix: `~${instanceTag}.${++coreSeq}` } : {}),
    queuePolicy: options.queuePolicy ?? {},
    scheduler: options.scheduler ?? {},
    rollout: options.rollout ?? {},
    // A shadow copy answers on the shadow topic: nothing to ack, and no span of its own.
    shadowOf: (h, copy) => ({ request: copy, row: h.row, ack: () => undefined, span: UNTRACED }),
    effects: {
      decided: onDecision,
      rejected: (h, _requestId, reason) => void reject(h.request, reason),
      finished,
      failed: (error) => log.error('dispatcher.batcher_failed', { error: describeError(error) }),
    },
  });
  let core = newCore();
  const subscriptions = new Subscription(() => core.close());

  /** Carries out a decision: publishes it, and sends an assigned batch to its worker. */
  function onDecision(event: SchedulerEvent): void {
    publish(event);
    switch (event.type) {
      case 'BatchFormed':
        stats.batchesFormed++;
        stats.batchSizes.push(event.requestIds.length);
        for (const id of event.requestIds) {
          const span = core.heldOf(id)?.span;
          if (span?.isRecording()) {
            span.setAttributes({ [ATTR.batchId]: event.batchId, [ATTR.batchSize]: event.requestIds.length, [ATTR.batchCloseReason]: event.reason });
            span.setStatus({ code: SpanStatusCode.OK });
            span.end();
          }
        }
        break;
      case 'BatchAssigned':
        stats.batchesAssigned++;
        sendBatch(event.batchId, event.workerId, event.workerEpoch, event.deviceUuid);
        break;
      case 'BatchCompleted':
        stats.batchesDone++;
        break;
      case 'RolloutAborted':
        keepRolledBack(event);
        break;
      default:
        break;
    }
  }

  /**
   * A rollback outlives this process: the model's manifest goes back on models.manifests with no
   * traffic on the canary, so a restarted dispatcher (or another instance) reads it that way.
   * Publishing the canary again starts a fresh rollout.
   */
  function keepRolledBack(event: RolloutAborted): void {
    const live = manifests.get(event.model);
    if (!live || live.canaryVersion !== event.canaryVersion || !live.canaryWeightPercent) return;
    const rolledBack: ModelManifest = { ...live, canaryWeightPercent: 0 };
    void later('rollback', async () => ({ topic: TOPICS.manifests, messages: [{ key: live.model, value: codecs.manifests.encode(rolledBack) }] }));
    log.info('dispatcher.rollback_kept', { model: live.model, canaryVersion: event.canaryVersion });
  }

  function sendBatch(batchId: string, workerId: string, workerEpoch: number, deviceUuid: string): void {
    const batch = core.openBatch(batchId);
    const members = batch?.members ?? [];
    if (members.length === 0) {
      assignedOnLog.delete(batchId);
      return;
    }
    const first = members[0]!;
    const rowBytes = first.row.data.byteLength;
    // One contiguous [N, ...] buffer: the only copy of the inputs between client and GPU.
    const data = new Uint8Array(rowBytes * members.length);
    members.forEach((h, i) => data.set(h.row.data, i * rowBytes));
    // Each member carries its dispatch span on to the worker, which answers it as that span's child.
    const batchMembersOut: BatchMember[] = members.map(({ request: r, span }) => ({
      requestId: r.requestId, tenant: r.tenant, sloClass: r.sloClass, deadlineMs: r.deadlineMs, submittedAtMs: r.submittedAtMs, replyTo: r.replyTo, traceparent: traceparentOf(span) ?? r.traceparent,
    }));
    const rowShape = first.row.shape[0] === 1 ? first.row.shape.slice(1) : first.row.shape;
    // A batch serves many requests: its span starts a trace of its own, linked to each member's.
    const links: Link[] = tracing.enabled ? members.map((h) => ({ context: h.span.spanContext() })).filter((l) => isSpanContextValid(l.context)) : [];
    const span = tracer.startSpan(SPAN.batch, {
      kind: SpanKind.PRODUCER, root: true, links, startTime: batch?.formedAtMs,
      attributes: {
        [ATTR.messagingSystem]: 'kafka', [ATTR.destination]: TOPICS.batches, [ATTR.operation]: 'send', [ATTR.batchId]: batchId, [ATTR.batchSize]: members.length,
        [ATTR.model]: first.request.model, [ATTR.workerId]: workerId, [ATTR.workerEpoch]: workerEpoch, [ATTR.deviceUuid]: deviceUuid,
      },
    });
    const headers = traceHeaders(trace.setSpan(ROOT_CONTEXT, span));
    const send = (): Promise<void> => later('batch', async () => {
      try {
        const value = codecs.batches.encode({
          batchId, model: first.request.model, modelVersion: batch?.modelVersion ?? first.request.modelVersion, workerId, workerEpoch, deviceUuid, formedAtMs: Date.now(),
          members: batchMembersOut, dtype: first.row.dtype, shape: [members.length, ...rowShape], data,
        });
        span.end();
        return { topic: TOPICS.batches, messages: [{ key: workerId, value, ...(headers ? { headers } : {}) }] };
      } catch (error) {
        endWithError(span, error);
        throw error;
      }
    });
    // With scale-out the worker may run it only once the log says where it went (a takeover reads
    // the log): it is queued when its BatchAssigned is on the broker, without holding up other output.
    const onLog = assignedOnLog.get(batchId);
    assignedOnLog.delete(batchId);
    if (!onLog) {
      void send();
      return;
    }
    const sent = onLog.then(send);
    batchesAwaitingLog.add(sent);
    void sent.finally(() => batchesAwaitingLog.delete(sent));
  }

  /** Admission checks the decoded tensor against the manifest before the batcher sees the request. */
  function admit(d: Delivery<InferenceRequest>): void {
    const received = d.value;
    if (core.holds(received.requestId)) {
      d.ack(); // a re-delivery of a request already being handled
      return;
    }
    // A request that could never be answered goes to the dead-letter topic instead of stalling a send.
    const problem = requestFieldProblem(received);
    if (problem && !problem.answerable) return deadLetter(d, problem.reason);
    // A tenant claim that does not hold is not answered: the answer would go to the tenant named.
    const forged = problem || !tenantKeys ? null : tenantKeys.problem(received, d.headers);
    if (forged) return deadLetter(d, forged);
    // With per-tenant result topics the answer goes by tenant, never to `replyTo`.
    if (!options.tenantResultTopics && !topics.has(received.replyTo)) {
      void topics.exists(received.replyTo).then(
        (exists) => (exists ? admitSafely(d) : deadLetter(d, `reply topic '${received.replyTo}' does not exist: the request could not be answered`)),
        (error: unknown) => {
          // Brokers that cannot list topics are no reason to drop the request: admit it.
          log.warn('dispatcher.topics_not_listed', { error: describeError(error) });
          admitSafely(d);
        },
      );
      return;
    }
    if (problem) {
      refuse(d, received, problem.reason);
      return;
    }
    // The request's time in the dispatcher, as a child of the client's span.
    const span = !tracing.enabled ? UNTRACED : tracer.startSpan(SPAN.dispatch, {
      kind: SpanKind.CONSUMER,
      attributes: {
        [ATTR.messagingSystem]: 'kafka', [ATTR.destination]: d.topic, [ATTR.operation]: 'process',
        [ATTR.requestId]: received.requestId, [ATTR.model]: received.model, [ATTR.tenant]: received.tenant, [ATTR.sloClass]: received.sloClass,
      },
    }, contextFromHeaders(d.headers, received.traceparent));
    let tensor: Tensor;
    try {
      const view = decodeTensor(received.tensor);
      // Own copies of the few input bytes, so a queued request does not pin the Kafka fetch buffer
      // it came in; packed with other requests' (a million queued are a million small tensors).
      tensor = compact.tensor(view);
    } catch (error) {
      endWithError(span, error);
      refuse(d, received, `bad input tensor: ${describeError(error)}`);
      return;
    }
    const request = compact.request(received);
    const manifest = manifests.get(request.model);
    if (manifest) {
      const rowShape = tensor.shape[0] === 1 ? tensor.shape.slice(1) : tensor.shape;
      if (tensor.dtype !== manifest.dtype || !sameShape(rowShape, manifest.inputShape)) {
        const reason = `input ${tensor.dtype}[${tensor.shape.join(', ')}] does not match ${manifest.model}:${manifest.version}, which takes ${manifest.dtype}[${manifest.inputShape.join(', ')}]`;
        endWithError(span, reason);
        refuse(d, request, reason);
        return;
      }
    }
    stats.admitted++;
    const ref = refOf(d);
    journal.input(clock.now(), ref);
    // One object per held request, which is the request too: its row and its ack are made when asked for.
    const held = compact.held(request, tensor, d.acks, Number(d.offset), span);
    core.admit({ ref, request: held, held });
    stats.unfinished = core.unfinished;
  }

  /** Admission for a request that waited for the topic list, outside the input loop's own guard. */
  function admitSafely(d: Delivery<InferenceRequest>): void {
    try {
      admit(d);
    } catch (error) {
      log.error('dispatcher.input_failed', { kind: 'request', error: describeError(error) });
    }
  }

  function deadLetter(d: Delivery<InferenceRequest>, reason: string): void {
    log.warn('dispatcher.dead_lettered', { topic: d.topic, partition: d.partition, offset: d.offset, reason });
    void (async () => {
      const value = codecs.requests.encode(d.value);
      await deadLetters.send({ sourceTopic: d.topic, partition: d.partition, offset: d.offset, reason, errorClass: 'ValidationError', key: d.key, value, timestampMs: d.timestampMs });
    })()
      .catch((error: unknown) => log.error('dispatcher.dead_letter_failed', { offset: d.offset, error: describeError(error) }))
      .finally(() => d.ack());
  }

  /** One turn: the clock is read once, then the input is applied. */
  function turn(input: Input): void {
    clock.startTurn();
    try {
      onInput(input);
    } catch (error) {
      // A decision that throws is a bug; log it with the input and keep serving the rest.
      log.error('dispatcher.input_failed', { kind: input.kind, error: describeError(error), retriable: error instanceof GpuflowError && error.retriable });
    }
  }

  function onInput(input: Input): void {
    if (input.kind !== 'request') journal.input(clock.now(), input.kind === 'tick' ? `tick:${input.atMs}` : refOf(input.d));
    switch (input.kind) {
      case 'request':
        if (ownership?.request(input.d) === 'handled') return;
        admit(input.d);
        return;
      case 'manifest':
        if (manifestsCatchUp.seen(input.d.partition, input.d.offset)) manifestsRead();
        if (isRetirement(input.d.value)) {
          manifests.delete(input.d.value.model);
          core.apply({ kind: 'retired', ref: refOf(input.d), model: input.d.value.model });
          log.info('dispatcher.model_retired', { model: input.d.value.model, ref: refOf(input.d) });
        } else {
          manifests.set(input.d.value.model, input.d.value);
          core.apply({ kind: 'manifest', ref: refOf(input.d), manifest: input.d.value });
        }
        input.d.ack();
        return;
      case 'heartbeat':
        core.apply({ kind: 'heartbeat', ref: refOf(input.d), heartbeat: ownership ? ownership.heartbeat(input.d.value) : input.d.value });
        input.d.ack();
        return;
      case 'telemetry':
        core.apply({ kind: 'telemetry', ref: refOf(input.d), sample: ownership ? ownership.sample(input.d.value) : input.d.value });
        input.d.ack();
        return;
      case 'anomaly':
        log.info('dispatcher.anomaly', { deviceUuid: input.d.value.deviceUuid, state: input.d.value.state, reason: input.d.value.reason });
        if (ownership) alerts.set(`${input.d.value.deviceUuid}/${input.d.value.kind}`, input.d.value);
        core.apply({ kind: 'anomaly', ref: refOf(input.d), alert: input.d.value });
        input.d.ack();
        return;
      case 'report':
        if (ownership?.report(input.d)) return;
        core.apply({ kind: 'report', ref: refOf(input.d), report: input.d.value });
        input.d.ack();
        return;
      case 'tick':
        ownership?.tick();
        core.apply({ kind: 'tick', ref: `tick:${input.atMs}` });
        return;
    }
  }

  // Scale-out: the partitions this instance holds, their ledgers and inherited batches, its device share.
  const scaleOut = options.scaleOut;
  if (scaleOut) await checkCoPartitioned(kafka, scaleOut);
  const ownership = scaleOut
    ? createPartitionOwnership({
        kafka, producer, logger: log, groupId: options.groupId, options: scaleOut,
        livenessTimeoutMs: options.scheduler?.livenessTimeoutMs ?? DEFAULT_SCHEDULER_CONFIG.livenessTimeoutMs,
        codecs: { decisions: codecs.decisions, reports: codecs.reports, batches: codecs.batches },
        flushOwn: async () => {
          await encoding;
          await Promise.all(batchesAwaitingLog);
          await Promise.all(unacked);
        },
        publish,
        readmit: admitSafely,
        now: () => clock.now(),
      })
    : null;
  /** Inputs that wait while the ledgers of a new assignment are rebuilt. */
  let parked: Input[] = [];
  /** With scale-out, the latest alert of each device and kind: alerts are transitions, and a fresh core must know those still raised. */
  const alerts = new Map<string, AnomalyAlert>();
  /** Acks of deliveries let go at a rebalance: given after the consumer's generation moved on, they only free its in-flight count. */
  const staleAcks: (() => void)[] = [];
  let letGo = false;
  let takeovers = 0;

  /** A rebalance began: the core and everything held go; partitioned inputs will come again. */
  function release(): void {
    if (!ownership || letGo) return;
    letGo = true;
    staleAcks.push(...ownership.revoke());
    for (const h of core.heldAll()) staleAcks.push(h.ack);
    core.close();
    core = newCore();
    for (const m of manifests.values()) core.apply({ kind: 'manifest', ref: `${TOPICS.manifests}:latest:${m.model}`, manifest: m });
    for (const a of alerts.values()) if (a.state === 'RAISED') core.apply({ kind: 'anomaly', ref: `${TOPICS.anomalies}:latest:${a.deviceUuid}`, alert: a });
    stats.unfinished = 0;
  }

  /** The group's assignment: rebuild the held partitions' ledgers, then serve what waited. */
  function takeOver(assigned: { topic: string; partitions: number[] }[]): void {
    if (!ownership) return;
    release();
    letGo = false;
    // Requests and reports delivered before this assignment come again from the committed offsets.
    const kept: Input[] = [];
    for (const input of parked) {
      if (input.kind === 'request' || input.kind === 'report') staleAcks.push(input.d.ack);
      else kept.push(input);
    }
    parked = kept;
    for (const ack of staleAcks.splice(0)) ack();
    const partitions = assigned.find((a) => a.topic === TOPICS.requests)?.partitions ?? [];
    const mine = ++takeovers;
    const attempt = (): void => {
      ownership.assign(partitions).then(
        () => {
          for (const input of parked.splice(0)) turn(input);
        },
        (error: unknown) => {
          if (error instanceof RebuildSuperseded) return;
          log.error('dispatcher.rebuild_failed', { partitions, error: describeError(error) });
          setTimeout(() => (takeovers === mine ? attempt() : undefined), 1_000);
        },
      );
    };
    attempt();
  }

  const ends = new Map<string, Map<number, string>>();
  if (options.startAtEnd) for (const t of [TOPICS.requests, TOPICS.reports]) ends.set(t, await endOffsets(kafka, t));
  const source = <T>(topic: string, codec: { decode(b: Buffer): T | Promise<T> }, extra: { fromBeginning?: boolean; maxInFlight?: number } = {}): ConsumerSource<T> =>
    consume<T>(kafka, {
      groupId: `${options.groupId}.${topic}`, topics: [topic], decode: (b) => codec.decode(b), deadLetters, logger: log,
      startAt: (t, p) => ends.get(t)?.get(p), sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000, ...extra,
    });
  // Manifests are state: every process reads all of them (its own group, from the start), and
  // requests wait until they are read, so that no request meets an empty model table.
  const manifestsCatchUp = new CatchUp(await endOffsets(kafka, TOPICS.manifests));
  let manifestsRead!: () => void;
  const manifestsReady = new Promise<void>((r) => (manifestsRead = r));
  if (manifestsCatchUp.caughtUp) manifestsRead();
  // With scale-out, what every instance needs whole (membership, telemetry, alerts) is read by a
  // group of the instance's own: heartbeats and telemetry from now, alerts (transitions, few) from
  // the start, so that an alert raised before the instance started still counts. Requests and
  // reports are the partitioned work, in one group whose assigner keeps partition p of both topics
  // together; a new group starts at the topics' end when `startAtEnd`, at their beginning
  // otherwise, and after that at its committed offsets.
  const whole = <T>(topic: string, codec: { decode(b: Buffer): T | Promise<T> }, fromBeginning = false): ConsumerSource<T> =>
    scaleOut
      ? consume<T>(kafka, { groupId: `${options.groupId}.${topic}.${instanceTag}`, topics: [topic], decode: (b) => codec.decode(b), deadLetters, logger: log, sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000, fromBeginning })
      : source(topic, codec);
  const partitioned = scaleOut
    ? consume<InferenceRequest | WorkerReport>(kafka, {
        groupId: partitionedGroupOf(options.groupId), topics: [TOPICS.requests, TOPICS.reports], deadLetters, logger: log,
        decode: (b, topic) => (topic === TOPICS.requests ? codecs.requests.decode(b) : codecs.reports.decode(b)),
        fromBeginning: !options.startAtEnd, maxInFlight: options.maxInFlightRequests, sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
        partitionAssigners: [coPartitionAssigner(scaleOut.shareGroups)], onRebalancing: release, onAssignment: takeOver,
      })
    : null;
  const sources = {
    manifests: consume<ManifestRecord>(kafka, {
      groupId: `${options.groupId}.manifests.${randomUUID()}`, topics: [TOPICS.manifests], fromBeginning: true,
      decode: (b) => codecs.manifests.decode(b), tombstone: retirementOf, deadLetters, logger: log,
      onDeadLettered: (p) => {
        if (manifestsCatchUp.seen(p.partition, p.offset)) manifestsRead();
      },
    }),
    heartbeats: whole(TOPICS.heartbeats, codecs.heartbeats),
    telemetry: whole(TOPICS.telemetry, codecs.telemetry),
    anomalies: whole(TOPICS.anomalies, codecs.anomalies, true),
    reports: partitioned ? null : source(TOPICS.reports, codecs.reports),
    requests: partitioned ? null : source(TOPICS.requests, codecs.requests, { fromBeginning: true, maxInFlight: options.maxInFlightRequests }),
  };
  const requests$: Observable<Input> = partitioned
    ? partitioned.deliveries$.pipe(map((d): Input => (d.topic === TOPICS.requests ? { kind: 'request', d: d as Delivery<InferenceRequest> } : { kind: 'report', d: d as Delivery<WorkerReport> })))
    : sources.requests!.deliveries$.pipe(map((d): Input => ({ kind: 'request', d })));
  const inputs$: Observable<Input> = merge(
    sources.manifests.deliveries$.pipe(map((d): Input => ({ kind: 'manifest', d }))),
    sources.heartbeats.deliveries$.pipe(map((d): Input => ({ kind: 'heartbeat', d }))),
    sources.telemetry.deliveries$.pipe(map((d): Input => ({ kind: 'telemetry', d }))),
    sources.anomalies.deliveries$.pipe(map((d): Input => ({ kind: 'anomaly', d }))),
    sources.reports ? sources.reports.deliveries$.pipe(map((d): Input => ({ kind: 'report', d }))) : NOTHING,
    from(manifestsReady).pipe(switchMap(() => requests$)),
    interval(options.tickMs).pipe(map((): Input => ({ kind: 'tick', atMs: Date.now() }))),
  );
  subscriptions.add(
    inputs$.subscribe({
      next: (input) => {
        // While a new assignment's ledgers are rebuilt, inputs wait; manifests go on, ticks are dropped.
        if (!ownership || ownership.ready || input.kind === 'manifest') turn(input);
        else if (input.kind !== 'tick') parked.push(input);
      },
      error: (error: unknown) => log.error('dispatcher.source_failed', { error: describeError(error) }),
    }),
  );
  log.info('dispatcher.started', { groupId: options.groupId, ...(scaleOut ? { scaleOut, instance: instanceTag } : {}) });

  return {
    stats,
    decisions$: decisions$.asObservable(),
    async stop() {
      // Requests not finished are not acked: the next dispatcher gets them again.
      await (partitioned ?? sources.requests)?.close();
      await Promise.all([sources.manifests, sources.heartbeats, sources.telemetry, sources.anomalies, sources.reports].map((s) => s?.close()));
      await ownership?.stop();
      subscriptions.unsubscribe();
      await encoding;
      await Promise.all(batchesAwaitingLog);
      await Promise.all(unacked);
      journal.flush();
      await producer.disconnect();
      decisions$.complete();
      await tracing.flush();
      log.info('dispatcher.stopped', { unfinished: core.unfinished });
    },
  };
}

/**
 * Scale-out needs requests, reports and decisions co-partitioned (all keyed by model, with the same
 * partition count) and no more share groups than partitions.
 */
async function checkCoPartitioned(kafka: Kafka, scaleOut: ScaleOutOptions): Promise<void> {
  const counts = new Map<string, number>();
  for (const topic of [TOPICS.requests, TOPICS.reports, TOPICS.decisions]) counts.set(topic, (await endOffsets(kafka, topic)).size);
  const [first] = counts.values();
  if ([...counts.values()].some((n) => n !== first)) {
    throw new ConfigError(`scale-out needs ${[...counts.keys()].join(', ')} to have the same partition count; they have ${[...counts].map(([t, n]) => `${t}: ${n}`).join(', ')}`);
  }
  if (!Number.isInteger(scaleOut.shareGroups) || scaleOut.shareGroups < 1 || scaleOut.shareGroups > (first ?? 0)) {
    throw new ConfigError(`scale-out share groups must be a whole number from 1 to the ${first ?? 0} partitions of ${TOPICS.requests}, got ${scaleOut.shareGroups}`);
  }
}
