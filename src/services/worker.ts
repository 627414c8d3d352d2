/**
 * The worker process: takes exactly the batches assigned to it (key = its id, epoch = this
 * incarnation), runs them on its devices through the model host, answers every member on its
 * reply topic (with per-tenant result topics: its tenant's topic and the shared one), reports the
 * batch to the dispatcher, and heartbeats its capacity.
 * Order per batch: results, then the report, then the commit; a crash in between re-runs the
 * batch and the client drops the duplicate results.
 */
import { hostname } from 'node:os';
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { merge, mergeMap, Subject, Subscription } from 'rxjs';
import type { Config } from '../config.js';
import { describeError, GpuflowError, ValidationError } from '../domain/errors.js';
import type { Batch, Heartbeat, InferenceResult, ManifestRecord, ModelManifest, WorkerReport } from '../domain/events/index.js';
import { isRetirement } from '../domain/events/manifest.js';
import type { DeviceInventory, TelemetrySource } from '../gpu/devices.js';
import { startSampler } from '../gpu/telemetry-sampler.js';
import type { Executor } from '../gpu/executors/executor.js';
import { ModelHost } from '../gpu/model-host.js';
import { parseVersionSlowdowns, withVersionSlowdowns } from '../gpu/simulated/version-slowdown.js';
import { routedVersions } from '../processors/traffic/route.js';
import { SHADOW_RESULTS_TOPIC } from '../processors/traffic/shadow-copy.js';
import type { Logger } from '../log.js';
import type { Kafka } from '../kafka/client.js';
import { batchAddress } from '../kafka/codecs/batch-codec.js';
import { avroCodec, batchCodec, codecsByTopic, type TopicCodec } from '../kafka/codecs/topic-codec.js';
import { rowEncoder } from '../kafka/codecs/tensor-codec.js';
import { CatchUp } from '../kafka/catch-up.js';
import { consume, type ConsumerSource, type Delivery } from '../kafka/consumer-source.js';
import { createDeadLetterSink } from '../kafka/dead-letters.js';
import { endOffsets } from '../kafka/offsets.js';
import { createProducer, type EventProducer, type OutgoingMessage } from '../kafka/producer.js';
import type { RegistryClient } from '../kafka/registry.js';
import { TOPICS } from '../kafka/topic-names.js';
import { createTopicDirectory, resultRouter, undeliverableResult } from '../kafka/topic-directory.js';
import { retirementOf } from '../kafka/manifest-tombstone.js';
import { contextFromHeaders, contextFromTraceparent, traceHeaders } from '../tracing/kafka-headers.js';
import { startTracing } from '../tracing/setup.js';
import { ATTR, endWithError, SPAN, tracerOf } from '../tracing/spans.js';

export interface WorkerOptions {
  workerId: string;
  /** Batches this worker runs at once. */
  slots: number;
  heartbeatMs: number;
  inventory: DeviceInventory & TelemetrySource;
  /** Telemetry of this worker's devices to gpu.telemetry at this period (0: a separate sampler does it). */
  telemetryMs: number;
  /** Builds the executor a manifest names (simulated devices stand in for cuda ones). */
  executorFor: (manifest: ModelManifest) => Promise<Executor>;
}

export interface WorkerHandle {
  readonly epoch: number;
  /** Stops taking batches, finishes those running, commits, leaves the groups. */
  stop(): Promise<void>;
}


const tracer = tracerOf('worker');

export async function startWorker(kafka: Kafka, registry: RegistryClient, config: Config, logger: Logger, options: WorkerOptions): Promise<WorkerHandle> {
  // Epochs only grow: a restarted worker is a new incarnation, and batches for the old one are not run.
  const epoch = Date.now();
  const log = logger.child({ workerId: options.workerId, epoch });
  const tracing = await startTracing({ serviceName: 'gpuflow-worker' });
  const producer: EventProducer = await createProducer(kafka);
  const reports = await avroCodec(registry, TOPICS.reports, 'worker-report');
  const heartbeats = await avroCodec(registry, TOPICS.heartbeats, 'heartbeat');
  const manifests = await avroCodec(registry, TOPICS.manifests, 'model-manifest');
  const resultCodec = codecsByTopic(registry, 'inference-result');
  const deadLetters = createDeadLetterSink(producer, codecsByTopic(registry, 'dead-letter'));
  const executorFor = withVersionSlowdowns(options.executorFor, parseVersionSlowdowns(config.simulatedSlowdown));
  const host = new ModelHost(executorFor);
  // Canary and shadow versions run beside the stable one: one more host per such version name,
  // each holding the models whose manifest routes traffic to that version.
  const versionHosts = new Map<string, ModelHost>();
  const versionHost = (version: string): ModelHost => {
    const h = versionHosts.get(version) ?? new ModelHost(executorFor);
    versionHosts.set(version, h);
    return h;
  };
  /** Loads a manifest's canary and shadow versions (weights from weightsByVersion) and unloads those it no longer routes to. */
  async function loadSideVersions(m: ModelManifest): Promise<void> {
    const wanted = routedVersions(m).filter((v) => v !== m.version);
    for (const [version, h] of versionHosts) if (!wanted.includes(version) && h.manifest(m.model)) await h.unload(m.model);
    for (const version of wanted) {
      const report = await versionHost(version).swap({ ...m, version, weightsUri: m.weightsByVersion?.[version] ?? m.weightsUri });
      log.info('worker.model_loaded', { ...report, side: true });
    }
  }
  /** The host that runs a batch: the one holding its version beside the stable one, else the stable host. */
  const hostOf = (model: string, version: string): ModelHost => {
    const side = versionHosts.get(version);
    return version !== '' && host.manifest(model)?.version !== version && side?.manifest(model)?.version === version ? side : host;
  };
  const devices = options.inventory.devices();
  const simulated = options.inventory.simulated;
  let running = 0;
  let stopping = false;
  // With per-tenant result topics, a result goes to its tenant's topic and the shared one; a tenant
  // without a topic is answered on the shared topic only, and dead-lettered. A failed topic listing
  // throws, and the batch is handed back rather than misrouted.
  const results = resultRouter(config.tenantResultTopics ? createTopicDirectory({ admin: () => kafka.admin(), relistAfterMs: 1_000 }) : null);

  /** Loads, swaps or unloads what one models.manifests record says. */
  async function applyManifestRecord(record: ManifestRecord): Promise<void> {
    if (isRetirement(record)) {
      // Batches already running finish first: unloading waits for them.
      const held = [host, ...versionHosts.values()].filter((h) => h.manifest(record.model));
      await Promise.all(held.map((h) => h.unload(record.model)));
      if (held.length > 0) log.info('worker.model_unloaded', { model: record.model, reason: 'retired' });
      return;
    }
    try {
      const report = await host.swap(record);
      log.info('worker.model_loaded', { ...report });
      await loadSideVersions(record);
    } catch (error) {
      log.error('worker.model_load_failed', { model: record.model, version: record.version, error: describeError(error) });
    }
  }

  // The topic's history up to now is read before anything is loaded, and only each model's newest
  // record is acted on: a starting worker loads the live models, not every version each ever had,
  // nor the models retired since (compaction keeps such history until it runs).
  const catchUp = new CatchUp(await endOffsets(kafka, TOPICS.manifests));
  const history = new Map<string, Delivery<ManifestRecord>>();
  let historyApplied = catchUp.caughtUp;
  async function applyHistory(): Promise<void> {
    historyApplied = true;
    for (const newest of history.values()) {
      await applyManifestRecord(newest.value);
      newest.ack();
    }
    history.clear();
  }
  // A dead-lettered last record ends the history too; it reaches the pipeline below as null.
  const historyRead = new Subject<null>();
  const manifestSource: ConsumerSource<ManifestRecord> = consume<ManifestRecord>(kafka, {
    groupId: `gpuflow-worker-manifests-${options.workerId}-${epoch}`,
    topics: [TOPICS.manifests],
    fromBeginning: true,
    decode: (b) => manifests.decode(b),
    tombstone: retirementOf,
    deadLetters,
    onDeadLettered: (p) => {
      if (!historyApplied && catchUp.seen(p.partition, p.offset)) historyRead.next(null);
    },
    logger: log,
  });
  const subscriptions = new Subscription();
  subscriptions.add(
    merge(manifestSource.deliveries$, historyRead)
      .pipe(
        mergeMap(async (d) => {
          if (d === null) {
            if (!historyApplied) await applyHistory();
          } else if (historyApplied) {
            await applyManifestRecord(d.value);
            d.ack();
          } else {
            history.get(d.value.model)?.ack();
            history.set(d.value.model, d);
            if (catchUp.seen(d.partition, d.offset)) await applyHistory();
          }
        }, 1),
      )
      .subscribe(),
  );

  async function report(r: WorkerReport): Promise<void> {
    await producer.send(TOPICS.reports, [{ key: r.model, value: reports.encode(r) }]);
  }

  async function run(batch: Batch, d: Delivery<unknown>): Promise<void> {
    const receivedAt = Date.now();
    const base = { batchId: batch.batchId, model: batch.model, modelVersion: batch.modelVersion, workerId: options.workerId, workerEpoch: epoch };
    // The batch's run, in the trace of the dispatcher's batch span that the message's headers carry.
    const parent = contextFromHeaders(d.headers);
    const span = tracer.startSpan(SPAN.runBatch, {
      kind: SpanKind.CONSUMER,
      attributes: {
        [ATTR.messagingSystem]: 'kafka', [ATTR.destination]: d.topic, [ATTR.operation]: 'process', [ATTR.batchId]: batch.batchId, [ATTR.batchSize]: batch.members.length,
        [ATTR.model]: batch.model, [ATTR.workerId]: options.workerId, [ATTR.workerEpoch]: epoch, [ATTR.deviceUuid]: batch.deviceUuid, [ATTR.simulated]: simulated,
      },
    }, parent);
    const runContext = trace.setSpan(parent, span);
    const resultSpans: Span[] = [];
    try {
      const host = hostOf(batch.model, batch.modelVersion);
      if (!host.manifest(batch.model)) {
        const reason = `model ${batch.model} is not loaded on ${options.workerId}`;
        endWithError(span, reason);
        await report({ type: 'BatchRefused', ...base, reason, retriable: true, timestampMs: Date.now() });
        return;
      }
      const device = devices.find((x) => x.uuid === batch.deviceUuid) ?? devices[0];
      const need = host.memoryEstimateBytes(batch.model, batch.members.length);
      if (device && need > device.memTotalBytes) {
        const reason = `needs ${need} bytes, device ${device.uuid} has ${device.memTotalBytes}`;
        endWithError(span, reason);
        await report({ type: 'BatchRefused', ...base, reason, retriable: true, timestampMs: Date.now() });
        return;
      }
      // The model on the device as its own span; on a real GPU the executor's CUDA event times are its attributes.
      const compute = tracer.startSpan(SPAN.compute, { attributes: { [ATTR.model]: batch.model, [ATTR.batchSize]: batch.members.length, [ATTR.deviceUuid]: batch.deviceUuid } }, runContext);
      const t0 = performance.now();
      const result = await host.execute(batch.model, { dtype: batch.dtype, shape: batch.shape, data: batch.data }, batch.modelVersion).catch((error: unknown) => {
        endWithError(compute, error);
        throw error;
      });
      const serviceUs = Math.round((performance.now() - t0) * 1000);
      compute.setAttributes({
        [ATTR.modelVersion]: result.modelVersion, [ATTR.computeUs]: Math.round(result.timings.computeUs), [ATTR.transferUs]: Math.round(result.timings.transferUs), [ATTR.simulated]: result.simulated,
      });
      compute.end();
      const rows = batch.members.length;
      // Each member's answer holds its row of the output; rows share everything but their bytes.
      const outputs = rowEncoder(result.output);
      if (outputs.rows !== rows) throw new ValidationError(`batch ${batch.batchId}: the model answered ${outputs.rows} rows for ${rows} members`);
      const doneAt = Date.now();
      // A shadow copy's answer goes to the shadow results topic only, never to a client's topic.
      // While the model has a shadow version, a copy of each client's answer goes there too, so that
      // whoever compares the two sees both outputs in one place.
      const shadowed = (host.manifest(batch.model)?.shadowVersion ?? '') !== '';
      const routes = await Promise.all(batch.members.map(async (m) => {
        if (m.replyTo === SHADOW_RESULTS_TOPIC) return { topics: [SHADOW_RESULTS_TOPIC], undeliverable: null };
        const route = await results.routeOf(m);
        return shadowed ? { ...route, topics: [...route.topics, SHADOW_RESULTS_TOPIC] } : route;
      }));
      const codecs = new Map<string, TopicCodec<InferenceResult>>();
      for (const route of routes) for (const topic of route.topics) if (!codecs.has(topic)) codecs.set(topic, await resultCodec(topic));
      const byTopic = new Map<string, OutgoingMessage[]>();
      const undelivered: Promise<void>[] = [];
      const latency = { batchUs: Math.max(0, (receivedAt - batch.formedAtMs) * 1000), transferUs: Math.round(result.timings.transferUs), computeUs: Math.round(result.timings.computeUs) };
      for (const [i, m] of batch.members.entries()) {
        const route = routes[i]!;
        // Each answer continues its request's trace, linked to this run (with tracing on).
        let headers: Record<string, string> | undefined;
        if (tracing.enabled) {
          const resultSpan = tracer.startSpan(SPAN.result, {
            kind: SpanKind.PRODUCER,
            links: [{ context: span.spanContext() }],
            attributes: {
              [ATTR.messagingSystem]: 'kafka', [ATTR.destination]: route.topics[0], [ATTR.operation]: 'send', [ATTR.requestId]: m.requestId,
              [ATTR.batchId]: batch.batchId, [ATTR.workerId]: options.workerId, [ATTR.status]: 'OK',
            },
          }, contextFromTraceparent(m.traceparent));
          resultSpans.push(resultSpan);
          headers = traceHeaders(trace.setSpan(runContext, resultSpan));
        }
        const answer: InferenceResult = {
          requestId: m.requestId, tenant: m.tenant, model: batch.model, modelVersion: result.modelVersion, sloClass: m.sloClass,
          status: 'OK', reason: '', batchId: batch.batchId, workerId: options.workerId, workerEpoch: epoch, output: outputs.row(i),
          latency: { queueUs: Math.max(0, (batch.formedAtMs - m.submittedAtMs) * 1000), ...latency },
          deadlineMs: m.deadlineMs, completedAtMs: doneAt, simulated: result.simulated,
        };
        for (const topic of route.topics) {
          // Encoded at once (the row's buffer is reused for the next member).
          const value = codecs.get(topic)!.encode(answer);
          const list = byTopic.get(topic) ?? [];
          list.push({ key: m.tenant, value, ...(headers ? { headers } : {}) });
          byTopic.set(topic, list);
          const letter = undeliverableResult(route, m.tenant, value, doneAt);
          if (letter) {
            log.warn('worker.result_dead_lettered', { requestId: m.requestId, tenant: m.tenant, reason: letter.reason });
            undelivered.push(deadLetters.send(letter));
          }
        }
      }
      // One producer request for every topic (the producer lingers and keeps order).
      await Promise.all([...[...byTopic].map(([topic, messages]) => producer.send(topic, messages)), ...undelivered]);
      for (const s of resultSpans.splice(0)) s.end();
      await report({
        type: 'BatchDone', ...base, modelVersion: result.modelVersion, deviceUuid: batch.deviceUuid, batchSize: rows,
        serviceTimeUs: (doneAt - receivedAt) * 1000 || serviceUs, transferUs: Math.round(result.timings.transferUs),
        computeUs: Math.round(result.timings.computeUs), timestampMs: doneAt,
      });
      span.setStatus({ code: SpanStatusCode.OK });
    } catch (error) {
      // A batch that cannot run here is handed back with the reason; the worker goes on.
      const retriable = !(error instanceof GpuflowError) || error.retriable;
      log.warn('worker.batch_refused', { batchId: batch.batchId, error: describeError(error) });
      for (const s of resultSpans.splice(0)) endWithError(s, error);
      endWithError(span, error);
      await report({ type: 'BatchRefused', ...base, reason: describeError(error), retriable, timestampMs: Date.now() });
    } finally {
      if (span.isRecording()) span.end();
    }
  }

  const codec = batchCodec(TOPICS.batches);
  // A new incarnation only has batches from now on; older ones were for an earlier epoch.
  const start = await endOffsets(kafka, TOPICS.batches);
  // Every worker reads every batch: those for another worker or incarnation are read no further
  // than their address (null), and acked.
  const batchSource: ConsumerSource<Batch | null> = consume(kafka, {
    groupId: `gpuflow-worker-${options.workerId}`,
    topics: [TOPICS.batches],
    decode: async (b) => {
      const to = batchAddress(b);
      return to.workerId === options.workerId && to.workerEpoch === epoch ? codec.decode(b) : null;
    },
    deadLetters,
    logger: log,
    maxInFlight: options.slots * 4,
    sessionTimeoutMs: 10_000,
    startAt: (_t, p) => start.get(p),
  });
  subscriptions.add(
    batchSource.deliveries$
      .pipe(
        mergeMap(async (d) => {
          const b = d.value;
          if (b !== null) {
            running++;
            try {
              if (stopping) {
                // Handed back at once rather than left to the liveness timeout.
                await report({ type: 'BatchRefused', batchId: b.batchId, model: b.model, modelVersion: b.modelVersion, workerId: options.workerId, workerEpoch: epoch, reason: 'worker stopping', retriable: true, timestampMs: Date.now() });
              } else {
                await run(b, d);
              }
            } finally {
              running--;
            }
          }
          d.ack();
        }, options.slots),
      )
      .subscribe({ error: (error: unknown) => log.error('worker.batches_failed', { error: describeError(error) }) }),
  );

  async function beat(capacity = Math.max(0, options.slots - running)): Promise<void> {
    const hb: Heartbeat = {
      workerId: options.workerId, epoch, node: hostname(), timestampMs: Date.now(),
      devices: devices.map(({ uuid, index, name, memTotalBytes, pciBusId }) => ({ uuid, index, name, memTotalBytes, pciBusId, simulated })),
      loadedModels: host.loadedModelNames(), inFlightBatches: running, capacity,
    };
    await producer.send(TOPICS.heartbeats, [{ key: options.workerId, value: heartbeats.encode(hb) }]);
  }
  await beat();
  const samples = await avroCodec(registry, 'gpu.telemetry', 'gpu-sample');
  const stopSampler =
    options.telemetryMs > 0
      ? startSampler(options.inventory, { intervalMs: options.telemetryMs }, (round) => {
          void (async () => producer.send('gpu.telemetry', round.samples.map((x) => ({ key: x.deviceUuid, value: samples.encode(x) }))))().catch(
            (error: unknown) => log.warn('worker.telemetry_failed', { error: describeError(error) }),
          );
        })
      : () => undefined;
  const timer = setInterval(() => void beat().catch((error: unknown) => log.warn('worker.heartbeat_failed', { error: describeError(error) })), options.heartbeatMs);
  log.info('worker.started', { devices: devices.map((d) => d.uuid), simulated, slots: options.slots });

  return {
    epoch,
    async stop() {
      stopping = true;
      clearInterval(timer);
      stopSampler();
      await batchSource.close();
      while (running > 0) await new Promise((r) => setTimeout(r, 20));
      await beat(0).catch(() => undefined);
      subscriptions.unsubscribe();
      await manifestSource.close();
      await host.unloadAll();
      await Promise.all([...versionHosts.values()].map((h) => h.unloadAll()));
      await producer.disconnect();
      await tracing.flush();
      log.info('worker.stopped', {});
    },
  };
}
