/**
 * e2e: the live pipeline on loopback against the real broker, against what a user would otherwise
 * write: a bare kafkajs relay with the same Kafka hops (client → topic → stage → topic → stage →
 * topic → client), passing the same request bytes through without looking at them.
 *   - throughput: N requests sent as fast as the client can, until the last answer; three bursts
 *     per side, interleaved (relay, gpuflow, relay, …) with both pipelines up, and the best of each
 *     side kept: on a shared machine the fastest burst is the least disturbed one, and interleaving
 *     gives both sides the same machine;
 *   - latency: a fixed rate for a fixed time; p50 and p99 per request;
 * The GPU is taken out of both (gpuflow's workers run simulated devices that answer at once), so what
 * is compared is the control plane's own cost. Also: SLO attainment per class on a fixed bursty trace
 * with simulated devices that take their modelled service time.
 * Memory: the dispatcher's resident bytes per queued request with a million queued, and its
 * backpressure (bench/lib/dispatcher-memory.ts): a real dispatcher process admits every request
 * through the real broker and holds it (--memory=N for another count).
 *   npm run bench -- e2e [--quick] [--memory=N] [--no-memory]
 * (--no-memory leaves the memory row out, for iterating on the others.)
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { quantile } from 'simple-statistics';
import type { Kafka } from 'kafkajs';
import { DEFAULT_DEADLINES, planArrivals } from '../src/client/arrivals.js';
import { createClient, type GpuflowClient } from '../src/client/client.js';
import { runLoad } from '../src/client/load-run.js';
import { summarise } from '../src/client/summary.js';
import { loadTensor } from '../src/cli/commands/submit.js';
import { loadConfig } from '../src/config.js';
import { encodeTensor } from '../src/kafka/codecs/tensor-codec.js';
import { avroCodec } from '../src/kafka/codecs/topic-codec.js';
import { createProducer } from '../src/kafka/producer.js';
import { createLogger } from '../src/log.js';
import { bootstrap } from '../src/services/bootstrap.js';
import { executorFactory, openDevices } from '../src/services/devices.js';
import { startDispatcher, type DispatcherHandle } from '../src/services/dispatcher.js';
import { DEMO_MANIFEST, publishManifest } from '../src/services/manifests.js';
import { startWorker, type WorkerHandle } from '../src/services/worker.js';
import { measureDispatcherMemory } from './lib/dispatcher-memory.js';
import { row, type BenchRow } from './result.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The baseline: two relay stages, each a kafkajs consumer that forwards every batch it gets. */
async function startRelay(kafka: Kafka, run: string): Promise<{ topics: [string, string, string]; stop(): Promise<void> }> {
  const topics: [string, string, string] = [`e2e-relay-a-${run}`, `e2e-relay-b-${run}`, `e2e-relay-c-${run}`];
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: topics.map((topic) => ({ topic, numPartitions: 6, replicationFactor: 1 })) });
  await admin.disconnect();
  const stages = await Promise.all(
    [0, 1].map(async (i) => {
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const consumer = kafka.consumer({ groupId: `e2e-relay-${i}-${run}`, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic: topics[i]!, fromBeginning: true });
      await consumer.run({
        partitionsConsumedConcurrently: 6,
        eachBatch: async ({ batch }) => {
          await producer.send({ topic: topics[i + 1]!, acks: -1, messages: batch.messages.map((m) => ({ key: m.key, value: m.value })) });
        },
      });
      return { producer, consumer };
    }),
  );
  return {
    topics,
    async stop() {
      for (const s of stages) {
        await s.consumer.disconnect();
        await s.producer.disconnect();
      }
    },
  };
}

/**
 * A relay client: sends request bytes to the first topic, times each answer on the last. A send
 * resolves when its answer arrives (the first one: a redelivery is not an answer).
 */
async function relayClient(kafka: Kafka, topics: [string, string, string], run: string) {
  const producer = await createProducer(kafka);
  const waiting = new Map<string, { sentAt: number; answered(ms: number): void }>();
  const consumer = kafka.consumer({ groupId: `e2e-relay-client-${run}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: topics[2], fromBeginning: true });
  await consumer.run({
    partitionsConsumedConcurrently: 6,
    eachMessage: async ({ message }) => {
      const id = message.key!.toString();
      const w = waiting.get(id);
      if (w === undefined) return;
      waiting.delete(id);
      w.answered(performance.now() - w.sentAt);
    },
  });
  await sleep(3000); // group join
  return {
    /** Resolves with the request's latency in ms. */
    send(id: string, value: Buffer): Promise<number> {
      const answer = new Promise<number>((answered) => waiting.set(id, { sentAt: performance.now(), answered }));
      void producer.send(topics[0], [{ key: id, value }]);
      return answer;
    },
    async stop() {
      await consumer.disconnect();
      await producer.disconnect();
    },
  };
}

/** Sends `count` at a fixed rate; resolves when every answer is in, with the latencies (ms). */
async function paced(count: number, ratePerSec: number, send: () => Promise<number>): Promise<number[]> {
  const start = performance.now();
  const answers: Promise<number>[] = [];
  for (let i = 0; i < count; i++) {
    const due = (i * 1000) / ratePerSec - (performance.now() - start);
    if (due > 1) await sleep(due);
    answers.push(send());
  }
  return Promise.all(answers);
}

/** Requests per second of one burst: every request sent at once, timed until the last answer. */
async function burstRate(count: number, send: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: count }, (_, i) => send(i)));
  return count / ((performance.now() - t0) / 1000);
}

/** Bursts per side in the throughput row (interleaved; the best of each side is kept). */
const BURSTS = 3;

/** Requests each side answers before it is timed. */
const WARMUP = 20;

const p = (values: number[], q: number): number => Number(quantile(values, q).toFixed(2));

export async function run(args: string[]): Promise<BenchRow[]> {
  const quick = args.includes('--quick');
  const burst = quick ? 2_000 : 10_000;
  const rate = 200;
  const seconds = quick ? 5 : 15;
  const config = loadConfig();
  const logger = createLogger({ bench: 'e2e' }, 'error');
  const { kafka, registry } = await bootstrap(config, logger, { startStack: !config.external.kafka });
  const run = randomUUID().slice(0, 6);
  const producer = await createProducer(kafka);
  await publishManifest(producer, registry, DEMO_MANIFEST);
  const requestCodec = await avroCodec(registry, 'inference.requests', 'inference-request');
  const tensor = loadTensor(64)({} as never, 0);

  // Both pipelines up at once: the relay, and a dispatcher with two workers on simulated devices
  // that answer at once. Each answers a few requests before it is timed: connections, group joins
  // and caches (the registry's schema lookups) are warm, so a thousand concurrent first sends do
  // not each fetch them.
  const relay = await startRelay(kafka, run);
  const rc = await relayClient(kafka, relay.topics, run);
  // The relay passes the bytes of one gpuflow request, encoded once, through its hops.
  const payload = requestCodec.encode({
    requestId: 'relay', model: DEMO_MANIFEST.model, modelVersion: '', tenant: 'acme', sloClass: 'batch', deadlineMs: Date.now() + 600_000,
    submittedAtMs: Date.now(), replyTo: 'inference.results', traceparent: '', tensor: encodeTensor(tensor),
  });
  await Promise.all(Array.from({ length: WARMUP }, (_, i) => rc.send(`warmup-${i}`, payload)));
  const startWorkers = async (instant: boolean, tag: string): Promise<WorkerHandle[]> =>
    Promise.all(
      [1, 2].map((i) => {
        const workerId = `e2e-${tag}-${run}-w${i}`;
        const choice = openDevices({ simulate: true, count: 1, type: 'H100', node: `${hostname()}-${workerId}` }, logger);
        return startWorker(kafka, registry, config, logger, {
          workerId, slots: 4, heartbeatMs: 500, telemetryMs: 0, inventory: choice.inventory,
          executorFor: executorFactory(choice, { modelStore: config.modelStore, type: 'H100', seed: i, instant }),
        });
      }),
    );
  const waitJoined = (d: DispatcherHandle, n: number) =>
    new Promise<void>((resolve) => {
      let joined = 0;
      const sub = d.decisions$.subscribe((e) => e.type === 'WorkerJoined' && ++joined >= n && (sub.unsubscribe(), resolve()));
    });
  let dispatcher = await startDispatcher(kafka, registry, logger, { groupId: `e2e-${run}`, tickMs: 250, maxInFlightRequests: 100_000, startAtEnd: true, queuePolicy: { maxQueueSize: 100_000 } });
  let joined = waitJoined(dispatcher, 2);
  let workers = await startWorkers(true, 'instant');
  await joined;
  const client: GpuflowClient = await createClient(config, logger);
  const infer = (): Promise<unknown> => client.infer({ model: DEMO_MANIFEST.model, tenant: 'acme', sloClass: 'batch', deadlineMs: 600_000, tensor });
  await Promise.all(Array.from({ length: WARMUP }, infer));

  const relayBursts: number[] = [];
  const oursBursts: number[] = [];
  for (let b = 0; b < BURSTS; b++) {
    relayBursts.push(await burstRate(burst, (i) => rc.send(`burst-${b}-${i}`, payload)));
    oursBursts.push(await burstRate(burst, infer));
  }
  const relayThroughput = Math.max(...relayBursts);
  const oursThroughput = Math.max(...oursBursts);
  let sent = 0;
  const relayLat = await paced(rate * seconds, rate, () => rc.send(`paced-${sent++}`, payload));
  const oursLat = await paced(rate * seconds, rate, () => {
    const t0 = performance.now();
    return infer().then(() => performance.now() - t0);
  });
  await rc.stop();
  await relay.stop();
  const meanBatch = dispatcher.stats.batchSizes.reduce((a, b) => a + b, 0) / Math.max(1, dispatcher.stats.batchSizes.length);
  await Promise.all(workers.map((w) => w.stop()));
  await dispatcher.stop();

  // SLO attainment on a fixed bursty trace, devices taking their modelled time.
  dispatcher = await startDispatcher(kafka, registry, logger, { groupId: `e2e-slo-${run}`, tickMs: 250, maxInFlightRequests: 100_000, startAtEnd: true });
  joined = waitJoined(dispatcher, 2);
  workers = await startWorkers(false, 'timed');
  await joined;
  const arrivals = planArrivals({
    ratePerSec: rate, durationSec: seconds, pattern: 'bursty', models: [DEMO_MANIFEST.model],
    tenants: { acme: 2, globex: 1, initech: 1 }, classes: { realtime: 1, interactive: 2, batch: 1 }, deadlines: DEFAULT_DEADLINES, seed: 7,
  });
  const outcomes = await runLoad(client, arrivals, { tensor: loadTensor(64) });
  const attainment = Object.fromEntries(summarise(outcomes).map((r) => [r.sloClass, { sent: r.sent, attainment: Number(r.attainment.toFixed(4)), p50Ms: Number(r.p50Ms.toFixed(1)), p99Ms: Number(r.p99Ms.toFixed(1)), rejected: r.rejected }]));
  await client.close();
  await Promise.all(workers.map((w) => w.stop()));
  await dispatcher.stop();
  await producer.disconnect();
  const memoryArg = args.find((a) => a.startsWith('--memory='));
  const memory = args.includes('--no-memory') ? null : await measureDispatcherMemory(kafka, registry, memoryArg ? Number(memoryArg.slice(9)) : quick ? 20_000 : 1_000_000);

  const params = { requests: burst, pacedRate: rate, pacedSeconds: seconds, hops: 'three topics, two processing stages', devices: 'simulated, answering at once', payloadBytes: payload.length };
  return [
    row({
      name: 'throughput', unit: 'requests/s', ours: Math.round(oursThroughput), baseline: { name: 'bare kafkajs relay, same hops', value: Math.round(relayThroughput) },
      higherIsBetter: true, headline: true, params: { ...params, bursts: BURSTS, target: 'ratio >= 0.5' },
      extra: { meanBatchSize: Number(meanBatch.toFixed(1)), oursBursts: oursBursts.map(Math.round), relayBursts: relayBursts.map(Math.round) },
    }),
    row({
      name: 'latency-p99', unit: 'ms', ours: p(oursLat, 0.99), baseline: { name: 'bare kafkajs relay, same hops', value: p(relayLat, 0.99) },
      higherIsBetter: false, params: { ...params, target: 'ours <= 2 x relay (ratio >= 0.5)' }, extra: { oursP50Ms: p(oursLat, 0.5), relayP50Ms: p(relayLat, 0.5) },
    }),
    row({
      name: 'slo-attainment-bursty', unit: 'share of requests answered within deadline', ours: Number((outcomes.filter((o) => o.inTime).length / outcomes.length).toFixed(4)),
      baseline: { name: 'every request in time', value: 1 }, higherIsBetter: true,
      params: { rate, seconds, pattern: 'bursty', deadlines: DEFAULT_DEADLINES, devices: 'simulated H100 latency model, 2 workers x 4 slots' }, extra: { perClass: attainment },
    }),
    ...(memory === null ? [] : [row({
      name: 'dispatcher-memory-per-queued-request', unit: 'bytes (resident, tensor payload excluded)', ours: memory.bytesPerQueuedRequest,
      baseline: { name: 'target: 1 KiB per queued request', value: 1024 }, higherIsBetter: false,
      params: {
        queued: memory.queued, payloadBytesExcluded: memory.payloadBytesPerRequest,
        measured: 'a gpuflow dispatcher process fed through the broker, no worker: resident set once idle with every request queued, less before, less the input bytes',
      },
      extra: { heapBytesPerQueuedRequest: memory.heapBytesPerQueuedRequest, rssBeforeBytes: memory.rssBeforeBytes, rssAfterBytes: memory.rssAfterBytes, backpressure: memory.backpressure },
    })]),
  ];
}
