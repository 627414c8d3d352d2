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
import { decodeTensor, encodeTensor } from '../kafka/codecs/tensor-codec.js';
import { consume, type ConsumerSource } from '../kafka/consumer-source.js';
import { createDeadLetterSink } from '../kafka/dead-letters.js';
import { endOffsets } from '../kafka/offsets.js';
import { createProducer, type EventProducer } from '../kafka/producer.js';
import { createRegistryClient } from '../kafka/registry.js';
import { contextFromTraceparent, traceHeaders, traceparentOf } from '../tracing/kafka-headers.js';
import { startTracing } from '../tracing/setup.js';
import { ATTR, endWithError, SPAN, tracerOf } from '../tracing/spans.js';
import { loggedDeadLetters, resultsReading } from './results-reading.js';
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

interface Pending {
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
  kafka?: Kafka;
}

/** Requests name the client's results topic as their reply topic (results-reading.ts says which). */
export async function createClient(config: Config, logger: Logger, options: ClientOptions = {}): Promise<GpuflowClient> {
  const tenant = options.tenant ?? config.tenant;
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
      pending.delete(result.requestId);
      stats.completed++;
      if (result.status === 'OK') waiter.resolve({ ...result, tensor: decodeTensor(result.output) });
      else if (result.status === 'REJECTED') waiter.reject(new RequestRejectedError(result.requestId, result.reason));
      else waiter.reject(new RequestFailedError(result.requestId, result.reason));
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

  /** Encodes one request and produces it, with its trace context in the headers. */
  async function send(requestId: string, now: number, input: InferInput, span: Span, spanContext: Context): Promise<void> {
    const value = await requests.encode({
      requestId,
      model: input.model,
      modelVersion: input.modelVersion ?? '',
      tenant: input.tenant,
      sloClass: input.sloClass,
      deadlineMs: now + input.deadlineMs,
      submittedAtMs: now,
      replyTo: resultsTopic,
      traceparent: traceparentOf(span) ?? input.traceparent ?? '',
      tensor: encodeTensor(input.tensor),
    });
    const headers = traceHeaders(spanContext);
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
      // One span from the send to the answer; the request carries its context to the dispatcher.
      const parent = input.traceparent ? contextFromTraceparent(input.traceparent) : otelContext.active();
      const span = tracer.startSpan(SPAN.infer, {
        kind: SpanKind.PRODUCER,
        attributes: {
          [ATTR.messagingSystem]: 'kafka', [ATTR.destination]: 'inference.requests', [ATTR.operation]: 'send',
          [ATTR.requestId]: requestId, [ATTR.model]: input.model, [ATTR.tenant]: input.tenant, [ATTR.sloClass]: input.sloClass,
        },
      }, parent);
      const spanContext = trace.setSpan(parent, span);
      const outcome = new Promise<InferOutput>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(requestId);
          endWithError(span, `no answer within ${timeoutMs} ms`);
          reject(new RequestTimeoutError(requestId, timeoutMs));
        }, timeoutMs);
        const onAbort = (): void => {
          pending.delete(requestId);
          clearTimeout(timer);
          endWithError(span, 'cancelled');
          reject(new RequestCancelledError(requestId));
        };
        input.signal?.addEventListener('abort', onAbort, { once: true });
        const settle = (): void => {
          clearTimeout(timer);
          input.signal?.removeEventListener('abort', onAbort);
        };
        pending.set(requestId, {
          resolve: (r) => {
            settle();
            span.setAttributes({ [ATTR.status]: r.status, [ATTR.modelVersion]: r.modelVersion, [ATTR.batchId]: r.batchId, [ATTR.workerId]: r.workerId });
            span.setStatus({ code: SpanStatusCode.OK });
            span.end();
            resolve(r);
          },
          reject: (e) => (settle(), endWithError(span, e), reject(e)),
        });
      });
      // The answer, a timeout or a cancel may settle `outcome` while the send below is still in
      // flight; marking it handled now keeps that from being an unhandled rejection. The caller
      // still receives it through the returned promise.
      outcome.catch(() => undefined);
      try {
        await send(requestId, now, input, span, spanContext);
      } catch (error) {
        pending.get(requestId)?.reject(error as Error);
        pending.delete(requestId);
        throw error;
      }
      stats.sent++;
      return outcome;
    },
    async close() {
      for (const [id, waiter] of pending) waiter.reject(new RequestCancelledError(id));
      pending.clear();
      subscription.unsubscribe();
      await source.close();
      await producer.disconnect();
      results$.complete();
      await tracing.flush();
    },
  };
}
