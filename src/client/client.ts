/**
 * The client SDK: request and reply over Kafka. `infer` produces an InferenceRequest with a
 * correlation id (the request id) and resolves with its one result; duplicates that at-least-once
 * delivery may bring are dropped here, so a caller sees exactly one outcome per request.
 */
import { randomUUID } from 'node:crypto';
import { context as otelContext, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { Subject, type Observable } from 'rxjs';
import type { Config } from '../config.js';
import { ValidationError } from '../domain/errors.js';
import type { InferenceResult } from '../domain/events/result.js';
import type { SloClass } from '../domain/events/request.js';
import type { Tensor } from '../domain/events/tensor.js';
import type { Logger } from '../log.js';
import { createKafka, type Kafka } from '../kafka/client.js';
import { avroCodec, codecsByTopic, type TopicCodec } from '../kafka/codecs/topic-codec.js';
import { decodeTensor, reusingTensorEncoder } from '../kafka/codecs/tensor-codec.js';
import { consume, type ConsumerSource } from '../kafka/consumer-source.js';
import { createDeadLetterSink } from '../kafka/dead-letters.js';
import { endOffsets } from '../kafka/offsets.js';
import { createProducer, type EventProducer } from '../kafka/producer.js';
import { createRegistryClient } from '../kafka/registry.js';
import { readTenantKey, signTenantClaim, TENANT_MAC_HEADER } from '../kafka/tenant-claim.js';
import { contextFromTraceparent, traceHeaders, traceparentOf } from '../tracing/kafka-headers.js';
import { startTracing } from '../tracing/setup.js';
import { ATTR, endWithError, SPAN, tracerOf } from '../tracing/spans.js';
import { loggedDeadLetters, resultsReading } from './results-reading.js';
import { TimeoutLines, type Timed } from './timeout-lines.js';
import { RequestCancelledError, RequestFailedError, RequestRejectedError, RequestTimeoutError } from './errors.js';

export interface InferInput {
  model: string;
  modelVersion?: string;
  tenant: string;
  sloClass: SloClass;
  /** Relative deadline: the request is worth nothing after this many ms. */
  deadlineMs: number;
  tensor: Tensor;
  /** Give up waiting after this long (default: deadline + 5 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  requestId?: string;
  /** W3C trace context to continue; the client's `infer` span becomes its child when tracing is on. */
  traceparent?: string;
}

export interface InferOutput extends InferenceResult {
  /** The decoded output tensor (a view into the result message). */
  tensor: Tensor;
}

export interface ClientStats {
  sent: number;
  completed: number;
  /** Results seen again for a request that already had one (dropped). */
  duplicates: number;
}

export interface GpuflowClient {
  infer(input: InferInput): Promise<InferOutput>;
  /** Every distinct result on the client's result topic, as it arrives. */
  readonly results$: Observable<InferenceResult>;
  readonly stats: ClientStats;
  close(): Promise<void>;
}

/** A request waiting for its answer. */
interface Pending extends Timed {
  readonly requestId: string;
  /** Its `infer` span, with tracing on. */
  readonly span: Span | null;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  resolve(r: InferOutput): void;
  reject(e: Error): void;
}

/** How many finished request ids are remembered to drop late duplicates. */
const REMEMBERED = 1_000_000;

const tracer = tracerOf('client');

export interface ClientOptions {
  /** Where results are read (and what requests name as their reply topic); default: the tenant's topic, or inference.results. */
  resultsTopic?: string;
  /** The tenant this client acts as (default: config.tenant, GPUFLOW_TENANT); its requests must name it. */
  tenant?: string;
  /** Signs every request with this tenant key (default: config.tenantKeyFile's, GPUFLOW_TENANT_KEY_FILE). */
  signingKey?: Buffer;
  kafka?: Kafka;
}

/** Requests name the client's results topic as their reply topic (results-reading.ts says which). */
export async function createClient(config: Config, logger: Logger, options: ClientOptions = {}): Promise<GpuflowClient> {
  const tenant = options.tenant ?? config.tenant;
  const signingKey = options.signingKey ?? (config.tenantKeyFile ? readTenantKey(config.tenantKeyFile) : undefined);
  const reading = resultsReading(tenant, 'client', options.resultsTopic);
  const resultsTopic = reading.topic;
  const tracing = await startTracing({ serviceName: 'gpuflow-client' });
  const kafka = options.kafka ?? createKafka(config, logger);
  const registry = createRegistryClient(config.schemaRegistryUrl);
  const requests = await avroCodec(registry, 'inference.requests', 'inference-request');
  const results: TopicCodec<InferenceResult> = await avroCodec(registry, resultsTopic, 'inference-result');
  const producer: EventProducer = await createProducer(kafka);
  const pending = new Map<string, Pending>();
  const finished = new Set<string>();
  const stats: ClientStats = { sent: 0, completed: 0, duplicates: 0 };
  // A request whose time is up has left its line already: it is answered, not settled.
  const timeouts = new TimeoutLines<Pending>(
    (w) => pending.get(w.requestId) === w,
    (w) => answer(w, new RequestTimeoutError(w.requestId, w.timeoutMs)),
  );
  /** Answers a waiting request before its time (a result, or the error it ends with). */
  function settle(w: Pending, outcome: InferOutput | Error): void {
    timeouts.settled(w);
    answer(w, outcome);
  }
  /** Answers a waiting request and stops watching it. */
  function answer(w: Pending, outcome: InferOutput | Error): void {
    pending.delete(w.requestId);
    if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    if (outcome instanceof Error) {
      if (w.span) endWithError(w.span, outcome);
      w.reject(outcome);
      return;
    }
    if (w.span) {
      w.span.setAttributes({ [ATTR.status]: outcome.status, [ATTR.modelVersion]: outcome.modelVersion, [ATTR.batchId]: outcome.batchId, [ATTR.workerId]: outcome.workerId });
      w.span.setStatus({ code: SpanStatusCode.OK });
      w.span.end();
    }
    w.resolve(outcome);
  }
  const results$ = new Subject<InferenceResult>();
  // Only results produced after the client started concern it. A topic the client may not read
  // fails here (or when the group joins, below), and the client gives its connections back.
  const start = await endOffsets(kafka, resultsTopic).catch(async (error: unknown) => {
    await producer.disconnect().catch(() => undefined);
    throw error;
  });
  let joined!: () => void;
  let refused!: (error: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => ((joined = resolve), (refused = reject)));
  const source: ConsumerSource<InferenceResult> = consume(kafka, {
    groupId: reading.groupId,
    topics: [resultsTopic],
    decode: (bytes) => results.decode(bytes),
    deadLetters: tenant ? loggedDeadLetters(logger) : createDeadLetterSink(producer, codecsByTopic(registry, 'dead-letter')),
    logger,
    startAt: (_topic, partition) => start.get(partition),
    onAssignment: () => joined(),
  });
  const subscription = source.deliveries$.subscribe({
    next: (d) => {
      d.ack();
      const result = d.value;
      if (finished.has(result.requestId)) {
        stats.duplicates++;
        return;
      }
      finished.add(result.requestId);
      if (finished.size > REMEMBERED) finished.delete(finished.values().next().value as string);
      results$.next(result);
      const waiter = pending.get(result.requestId);
      if (!waiter) return;
      stats.completed++;
      if (result.status === 'OK') settle(waiter, { ...result, tensor: decodeTensor(result.output) });
      else if (result.status === 'REJECTED') settle(waiter, new RequestRejectedError(result.requestId, result.reason));
      else settle(waiter, new RequestFailedError(result.requestId, result.reason));
    },
    error: (error: unknown) => {
      logger.error('client.results_failed', { error });
      refused(error);
      results$.error(error);
    },
  });
  await ready.catch(async (error: unknown) => {
    await source.close().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    throw error;
  });

  // The request's tensor is encoded straight into the request message: one builder for all.
  const encodeTensor = reusingTensorEncoder();

  /** Encodes one request and produces it, with its trace context in the headers (with tracing on). */
  async function send(requestId: string, now: number, input: InferInput, span: Span | null, spanContext: Context | null): Promise<void> {
    const claim = { requestId, tenant: input.tenant, model: input.model, submittedAtMs: now };
    const value = requests.encode({
      ...claim,
      modelVersion: input.modelVersion ?? '',
      sloClass: input.sloClass,
      deadlineMs: now + input.deadlineMs,
      replyTo: resultsTopic,
      traceparent: (span && traceparentOf(span)) ?? input.traceparent ?? '',
      tensor: encodeTensor(input.tensor),
    });
    let headers = spanContext ? traceHeaders(spanContext) : undefined;
    if (signingKey) headers = { ...headers, [TENANT_MAC_HEADER]: signTenantClaim(signingKey, claim) };
    await producer.send('inference.requests', [{ key: input.model, value, ...(headers ? { headers } : {}) }]);
  }

  return {
    results$: results$.asObservable(),
    stats,
    async infer(input) {
      const requestId = input.requestId ?? randomUUID();
      if (input.signal?.aborted) throw new RequestCancelledError(requestId);
      // Another tenant's results would go where this client cannot read them.
      if (tenant && input.tenant !== tenant) throw new ValidationError(`request ${requestId} names tenant '${input.tenant}', but this client acts as '${tenant}'`);
      const now = Date.now();
      const timeoutMs = input.timeoutMs ?? input.deadlineMs + 5_000;
      // With tracing on, one span from the send to the answer; the request carries its context to
      // the dispatcher. With it off, the request carries the caller's traceparent, if any.
      let span: Span | null = null;
      let spanContext: Context | null = null;
      if (tracing.enabled) {
        const parent = input.traceparent ? contextFromTraceparent(input.traceparent) : otelContext.active();
        span = tracer.startSpan(SPAN.infer, {
          kind: SpanKind.PRODUCER,
          attributes: {
            [ATTR.messagingSystem]: 'kafka', [ATTR.destination]: 'inference.requests', [ATTR.operation]: 'send',
            [ATTR.requestId]: requestId, [ATTR.model]: input.model, [ATTR.tenant]: input.tenant, [ATTR.sloClass]: input.sloClass,
          },
        }, parent);
        spanContext = trace.setSpan(parent, span);
      }
      let waiter!: Pending;
      const outcome = new Promise<InferOutput>((resolve, reject) => {
        waiter = { requestId, timeoutMs, dueAt: performance.now() + timeoutMs, span, signal: input.signal, onAbort: null, resolve, reject };
      });
      pending.set(requestId, waiter);
      timeouts.add(waiter);
      if (input.signal) {
        waiter.onAbort = () => {
          if (pending.get(requestId) === waiter) settle(waiter, new RequestCancelledError(requestId));
        };
        input.signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      // The answer, a timeout or a cancel may settle `outcome` while the send below is still in
      // flight; marking it handled now keeps that from being an unhandled rejection. The caller
      // still receives it through the returned promise.
      outcome.catch(() => undefined);
      try {
        await send(requestId, now, input, span, spanContext);
      } catch (error) {
        if (pending.get(requestId) === waiter) settle(waiter, error as Error);
        throw error;
      }
      stats.sent++;
      return outcome;
    },
    async close() {
      for (const [id, waiter] of pending) settle(waiter, new RequestCancelledError(id));
      timeouts.clear();
      subscription.unsubscribe();
      await source.close();
      await producer.disconnect();
      results$.complete();
      await tracing.flush();
    },
  };
}
