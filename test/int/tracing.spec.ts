/**
 * Traces over the real broker: an in-process client, dispatcher and worker (simulated device)
 * record into an in-memory exporter. Each request's spans must form one trace through the three
 * processes, carried by the W3C traceparent in Kafka headers; the batch span must link the
 * dispatch span of every member; the compute span must be a child of the worker's batch run.
 */
import { randomUUID } from 'node:crypto';
import { SpanKind, type SpanContext } from '@opentelemetry/api';
import { tracing as sdk } from '@opentelemetry/sdk-node';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type GpuflowClient } from '../../src/client/client.js';
import { bootstrap } from '../../src/services/bootstrap.js';
import { executorFactory, openDevices } from '../../src/services/devices.js';
import { startDispatcher, type DispatcherHandle } from '../../src/services/dispatcher.js';
import { DEMO_MANIFEST } from '../../src/services/manifests.js';
import { startWorker, type WorkerHandle } from '../../src/services/worker.js';
import { startTracing, type Tracing } from '../../src/tracing/setup.js';
import { ATTR, SPAN } from '../../src/tracing/spans.js';
import { publishTestManifest, testConfig, testLogger, waitFor } from '../helpers/kafka.js';

const run = randomUUID().slice(0, 6);
const model = `trace-mlp-${run}`;
const workerId = `trace-w-${run}`;
const logger = testLogger();
const exporter = new sdk.InMemorySpanExporter();
let tracing: Tracing;
let dispatcher: DispatcherHandle;
let worker: WorkerHandle;
let client: GpuflowClient;
let closeDevices: () => void = () => undefined;

beforeAll(async () => {
  // Before any service starts: they share the process's tracer provider.
  tracing = await startTracing({ serviceName: 'gpuflow-trace-test', spanProcessors: [new sdk.SimpleSpanProcessor(exporter)] });
  const config = testConfig();
  const { kafka, registry } = await bootstrap(config, logger, { startStack: false });
  await publishTestManifest({ ...DEMO_MANIFEST, model, maxQueueDelayMs: 20 });
  dispatcher = await startDispatcher(kafka, registry, logger, { groupId: `trace-dispatcher-${run}`, tickMs: 100, maxInFlightRequests: 1_000, sessionTimeoutMs: 6_000, startAtEnd: true });
  const joined = firstValueFrom(dispatcher.decisions$.pipe(filter((e) => e.type === 'WorkerJoined' && e.workerId === workerId)));
  const devices = openDevices({ simulate: true, count: 1, type: 'H100', node: `trace-${run}` }, logger);
  closeDevices = () => devices.inventory.close();
  worker = await startWorker(kafka, registry, config, logger, {
    workerId, slots: 2, heartbeatMs: 200, telemetryMs: 0, inventory: devices.inventory,
    executorFor: executorFactory(devices, { modelStore: config.modelStore, type: 'H100', seed: 1 }),
  });
  await joined;
  client = await createClient(config, logger);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await worker?.stop();
  await dispatcher?.stop();
  closeDevices();
  await tracing?.shutdown();
});

const tensor = { dtype: 'FP32' as const, shape: [1, 64], data: new Uint8Array(64 * 4) };
const same = (a: SpanContext | undefined, b: SpanContext): boolean => a?.traceId === b.traceId && a.spanId === b.spanId;

describe('traces across client, dispatcher and worker on the real broker', () => {
  it('one trace per request, a batch span linking its members, compute under the worker run', async () => {
    const ids = Array.from({ length: 4 }, (_, i) => `trace-${run}-${i}`);
    const outputs = await Promise.all(ids.map((requestId) => client.infer({ requestId, model, tenant: 'acme', sloClass: 'batch', deadlineMs: 20_000, tensor })));
    expect(outputs.map((o) => o.status)).toEqual(ids.map(() => 'OK'));
    // The worker ends its run span after reporting the batch, a little after the client has its answer.
    const spans = await waitFor('the spans of every request', async () => {
      await tracing.flush();
      const all = exporter.getFinishedSpans();
      const results = all.filter((s) => s.name === SPAN.result && ids.includes(String(s.attributes[ATTR.requestId])));
      const ended = new Set(all.map((s) => s.spanContext().spanId));
      return results.length === ids.length && results.every((r) => r.links.every((l) => ended.has(l.context.spanId))) ? all : undefined;
    }, 20_000);
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const runs = byName(SPAN.runBatch);

    for (const requestId of ids) {
      const of = (name: string) => {
        const found = byName(name).filter((s) => s.attributes[ATTR.requestId] === requestId);
        expect(found, `${name} of ${requestId}`).toHaveLength(1);
        return found[0]!;
      };
      const infer = of(SPAN.infer);
      const dispatch = of(SPAN.dispatch);
      const result = of(SPAN.result);
      // client → dispatcher → worker: one trace, each span the child of the one before.
      expect(infer.kind).toBe(SpanKind.PRODUCER);
      expect(infer.parentSpanContext).toBeUndefined();
      expect(dispatch.kind).toBe(SpanKind.CONSUMER);
      expect(same(dispatch.parentSpanContext, infer.spanContext())).toBe(true);
      expect(result.kind).toBe(SpanKind.PRODUCER);
      expect(same(result.parentSpanContext, dispatch.spanContext())).toBe(true);
      expect(new Set([infer, dispatch, result].map((s) => s.spanContext().traceId)).size).toBe(1);
      expect(infer.attributes[ATTR.status]).toBe('OK');

      // The batch that served it links its dispatch span, and its worker run is the batch span's child.
      const batchId = dispatch.attributes[ATTR.batchId];
      expect(typeof batchId).toBe('string');
      const batch = byName(SPAN.batch).find((s) => s.attributes[ATTR.batchId] === batchId);
      expect(batch, `batch span of ${String(batchId)}`).toBeDefined();
      expect(batch!.parentSpanContext).toBeUndefined();
      expect(batch!.links.some((l) => same(l.context, dispatch.spanContext()))).toBe(true);
      const runOf = runs.find((s) => same(s.parentSpanContext, batch!.spanContext()));
      expect(runOf, `worker run of ${String(batchId)}`).toBeDefined();
      expect(runOf!.attributes[ATTR.workerId]).toBe(workerId);
      expect(result.links.some((l) => same(l.context, runOf!.spanContext()))).toBe(true);
    }

    // Compute: its own span, under the worker's run, with the executor's device times.
    for (const r of runs.filter((s) => s.attributes[ATTR.model] === model)) {
      const compute = byName(SPAN.compute).filter((s) => same(s.parentSpanContext, r.spanContext()));
      expect(compute).toHaveLength(1);
      expect(compute[0]!.attributes[ATTR.simulated]).toBe(true);
      expect(Number(compute[0]!.attributes[ATTR.computeUs])).toBeGreaterThan(0);
    }
    // Every member of every batch span is linked: as many links as the batch's size.
    for (const b of byName(SPAN.batch).filter((s) => s.attributes[ATTR.model] === model)) expect(b.links).toHaveLength(Number(b.attributes[ATTR.batchSize]));
  }, 60_000);
});
