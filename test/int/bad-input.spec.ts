/**
 * Bad input against the real stack: a dispatcher, a simulated worker and a projector, each its own
 * process, take a corpus of bad requests and fuzzed ones (fast-check, fixed seed). Each must end
 * on inference.requests.dlq or be answered (REJECTED with the reason, or OK when a fuzzed request
 * happens to be valid) exactly once; no process may crash, and all still serve a good request
 * afterwards. Every rejection is also a RequestRejected decision on scheduler.events. Counts per kind go to bench/results/bad-input.json.
 */
import fc from 'fast-check';
import { Redis } from 'ioredis';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { row, writeResult, type BenchRow } from '../../bench/result.js';
import { createClient, type GpuflowClient } from '../../src/client/client.js';
import type { DeadLetter, InferenceResult, RequestRejected } from '../../src/domain/events/index.js';
import { avroCodec } from '../../src/kafka/codecs/topic-codec.js';
import type { ConsumerSource } from '../../src/kafka/consumer-source.js';
import { createProducer, type EventProducer } from '../../src/kafka/producer.js';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { bootstrap } from '../../src/services/bootstrap.js';
import { DEMO_MANIFEST, publishManifest } from '../../src/services/manifests.js';
import { BAD_KINDS, corpus, fuzzCase, goodTensor, type BadCase, type Framing } from '../helpers/bad-input.js';
import { consumeFromEnd, testConfig, testKafka, testLogger, uniqueName, waitFor } from '../helpers/kafka.js';
import { children, ready, running } from '../helpers/processes.js';

const logger = testLogger();
const run = uniqueName('bad');
const procs = children();
const DLQ = 'inference.requests.dlq';

let framing: Framing;
let client: GpuflowClient;
let rawProducer: kafkajs.Producer;
let sink: EventProducer;
let dlqSource: ConsumerSource<DeadLetter>;
let decisionSource: ConsumerSource<unknown>;
/** RequestRejected decisions on scheduler.events, by request id. */
const rejections = new Map<string, RequestRejected[]>();
/** Dead letters by the key of the message they hold. */
const deadLetters = new Map<string, DeadLetter[]>();
const results = new Map<string, InferenceResult>();
const pipeline: { name: string; child: ReturnType<typeof procs.gpuflow> }[] = [];

/** Per kind (and per fuzz generator): sent, and where each ended. */
const tally = new Map<string, { sent: number; deadLettered: number; rejected: number; served: number; refusedAtProduce: number }>();
const count = (name: string, fate: 'sent' | 'deadLettered' | 'rejected' | 'served' | 'refusedAtProduce'): void => {
  const t = tally.get(name) ?? { sent: 0, deadLettered: 0, rejected: 0, served: 0, refusedAtProduce: 0 };
  t[fate]++;
  tally.set(name, t);
};

beforeAll(async () => {
  const config = testConfig();
  const { kafka, registry } = await bootstrap(config, logger, { startStack: false });
  sink = await createProducer(kafka);
  await publishManifest(sink, registry, DEMO_MANIFEST);
  const requests = await avroCodec(registry, 'inference.requests', 'inference-request');
  framing = {
    requests,
    requestSchemaId: registry.schemaIdOf(await requests.encode({ requestId: 'x', model: 'm', modelVersion: '', tenant: 't', sloClass: 'batch', deadlineMs: 0, submittedAtMs: 0, replyTo: 'inference.results', traceparent: '', tensor: goodTensor() })),
    heartbeats: await avroCodec(registry, 'gpu.heartbeats', 'heartbeat'),
    replyTo: 'inference.results',
  };
  client = await createClient(config, logger);
  client.results$.subscribe((r) => results.set(r.requestId, r));
  dlqSource = await consumeFromEnd(kafka, registry, sink, { groupId: `${run}-dlq`, topic: DLQ, event: 'dead-letter' }, (d) => {
    const key = d.value.key ? Buffer.from(d.value.key).toString() : '';
    deadLetters.set(key, [...(deadLetters.get(key) ?? []), d.value]);
    d.ack();
  });
  decisionSource = await consumeFromEnd(kafka, registry, sink, { groupId: `${run}-decisions`, topic: 'scheduler.events', event: 'scheduler-event' }, (d) => {
    const event = d.value as { type: string };
    if (event.type === 'RequestRejected') {
      const rejected = event as RequestRejected;
      rejections.set(rejected.requestId, [...(rejections.get(rejected.requestId) ?? []), rejected]);
    }
    d.ack();
  });
  rawProducer = testKafka().producer();
  await rawProducer.connect();

  pipeline.push(
    { name: 'dispatcher', child: procs.gpuflow(['dispatcher', '--group', run, '--start-at-end', '--tick-ms', '200', '--stats-ms', '0']) },
    { name: 'worker', child: procs.gpuflow(['worker', '--simulate', '--id', `${run}-w1`, '--slots', '2', '--heartbeat-ms', '500']) },
    { name: 'projector', child: procs.gpuflow(['projector', '--group', `${run}-projector`, '--prefix', run, '--metrics-port', '0', '--session-timeout-ms', '6000']) },
  );
  await Promise.all(pipeline.map((p) => ready(p.child, p.name)));
  await expectServing();
});

afterAll(async () => {
  writeReport();
  await procs.killAll();
  // The projector's read models under this run's prefix.
  const redis = new Redis(testConfig().redisUrl);
  const keys = await redis.keys(`${run}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await client?.close();
  await dlqSource?.close();
  await decisionSource?.close();
  await rawProducer?.disconnect();
  await sink?.disconnect();
});

/** A good request is answered OK (the first one waits for the worker to join). */
async function expectServing(): Promise<void> {
  await waitFor('a good request to be served', async () => {
    try {
      const out = await client.infer({ model: DEMO_MANIFEST.model, tenant: 'acme', sloClass: 'batch', deadlineMs: 10_000, tensor: { dtype: 'FP32', shape: [1, 64], data: new Uint8Array(256) } });
      return out.status === 'OK' || undefined;
    } catch {
      return undefined;
    }
  }, 90_000, 500);
}

/** Where a case ended so far: its dead letters (any consumer's) and its answer. */
function fateOf(c: BadCase): { dead: DeadLetter[]; result: InferenceResult | undefined } {
  return { dead: deadLetters.get(c.key) ?? [], result: c.requestId ? results.get(c.requestId) : undefined };
}

const settled = (c: BadCase): boolean => {
  const { dead, result } = fateOf(c);
  return c.fate === 'dead-letter' ? dead.length > 0 : result !== undefined;
};

/** Produces the cases as they are (raw bytes, no client checks) and waits until each one has its fate. */
async function play(cases: readonly BadCase[]): Promise<void> {
  for (const c of cases) await rawProducer.send({ topic: 'inference.requests', acks: -1, messages: [{ key: c.key, value: c.value }] });
  try {
    await waitFor(`all ${cases.length} cases to be dead-lettered or answered`, () => cases.every(settled) || undefined, 60_000, 200);
  } catch (error) {
    const left = cases.filter((c) => !settled(c)).map((c) => `${c.name} (${c.fate}; ${fateOf(c).dead.length} dead letters, answer ${fateOf(c).result?.status ?? 'none'})`);
    throw new Error(`${(error as Error).message}; not settled: ${left.join(', ')}`);
  }
}

/** Asserts the case's one fate and its reason, and counts it under `tallyAs`. */
function check(c: BadCase, tallyAs: string): void {
  const { dead, result } = fateOf(c);
  count(tallyAs, 'sent');
  if (c.fate === 'dead-letter') {
    expect(dead.length, c.name).toBeGreaterThan(0);
    expect(dead.map((d) => d.reason).join(' | '), c.name).toMatch(c.reason);
    // Every consumer that refused it named the same place in the log.
    expect(new Set(dead.map((d) => `${d.partition}:${d.offset}`)).size, c.name).toBe(1);
    if (c.requestId) expect(results.has(c.requestId), c.name).toBe(false);
    count(tallyAs, 'deadLettered');
    return;
  }
  expect(result, c.name).toBeDefined();
  expect(dead, `${c.name}: answered, so not dead-lettered`).toHaveLength(0);
  if (c.fate === 'rejected') expect(result!.status, `${c.name}: ${result!.reason}`).toBe('REJECTED');
  if (result!.status === 'REJECTED') {
    expect(result!.reason, c.name).toMatch(c.reason);
    expect(result!.reason.length, c.name).toBeGreaterThan(0);
    count(tallyAs, 'rejected');
  } else {
    expect(result!.status, c.name).toBe('OK');
    count(tallyAs, 'served');
  }
}

function expectAlive(): void {
  for (const p of pipeline) expect(running(p.child), `${p.name} is still running`).toBe(true);
}

function writeReport(): void {
  if (tally.size === 0) return;
  const rows: BenchRow[] = [...tally].map(([name, t]) => {
    const handled = t.deadLettered + t.rejected + t.served + t.refusedAtProduce;
    return row({
      name: `bad-input: ${name}`, unit: 'messages handled with a reason', ours: handled, baseline: { name: 'messages sent', value: t.sent }, higherIsBetter: true,
      params: { ...t, seed: FUZZ_SEED, fuzzRuns: FUZZ_RUNS },
    });
  });
  const all = [...tally.values()].reduce((a, t) => ({ sent: a.sent + t.sent, handled: a.handled + t.deadLettered + t.rejected + t.served + t.refusedAtProduce }), { sent: 0, handled: 0 });
  rows.unshift(row({
    name: 'bad-input: all kinds, corpus and fuzzed', unit: 'messages handled with a reason', ours: all.handled, baseline: { name: 'messages sent', value: all.sent },
    higherIsBetter: true, headline: true, params: { processes: pipeline.map((p) => p.name), crashed: pipeline.filter((p) => !running(p.child)).map((p) => p.name) },
  }));
  writeResult('bad-input', rows);
  console.log(rows.map((r) => `${r.name}: ${r.ours}/${r.baseline.value} ${JSON.stringify(r.params)}`).join('\n'));
}

const FUZZ_SEED = 20_251_127;
const FUZZ_RUNS = 4;

describe('bad input on the real stack', () => {
  it('dead-letters or rejects every corpus case with its reason, and every process keeps serving', async () => {
    const cases = await corpus(run, framing);
    // Every kind the corpus names is exercised.
    expect(new Set(cases.map((c) => c.kind))).toEqual(new Set(BAD_KINDS));
    await play(cases);
    for (const c of cases) check(c, c.kind);
    // Each rejection, at admission or later, is a decision that projections and replay see, with the answer's reason.
    const rejected = cases.filter((c) => fateOf(c).result?.status === 'REJECTED');
    expect(rejected.length).toBeGreaterThan(0);
    await waitFor('a RequestRejected decision for every rejected case', () => rejected.every((c) => rejections.has(c.requestId!)) || undefined, 30_000, 200);
    for (const c of rejected) {
      const decisions = rejections.get(c.requestId!)!;
      expect(decisions, c.name).toHaveLength(1);
      expect(decisions[0]!.reason, c.name).toBe(fateOf(c).result!.reason);
      expect(decisions[0]!.inputs, c.name).toHaveLength(1);
      expect(decisions[0]!.inputs[0], c.name).toMatch(/^inference\.requests:\d+:\d+$/);
    }
    // Beyond the topic's max.message.bytes (8 MiB) the broker itself refuses the request: nothing enters.
    const huge = Buffer.alloc(9 * 2 ** 20);
    count('oversize payload', 'sent');
    await expect(rawProducer.send({ topic: 'inference.requests', acks: -1, messages: [{ key: `${run}-9MiB`, value: huge }] })).rejects.toThrow(/larger than the max message size/);
    count('oversize payload', 'refusedAtProduce');
    expectAlive();
    await expectServing();
    expect(client.stats.duplicates).toBe(0);
  });

  it('dead-letters or answers every fuzzed message exactly once, and every process keeps serving', async () => {
    let batch = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fuzzCase, { minLength: 30, maxLength: 30 }), async (fuzzed) => {
        const prefix = `${run}-f${batch++}`;
        const cases = await Promise.all(fuzzed.map((f, i) => f.build(`${prefix}-${i}`, framing)));
        await play(cases);
        cases.forEach((c, i) => check(c, `fuzz: ${fuzzed[i]!.generator}`));
        expectAlive();
      }),
      { seed: FUZZ_SEED, numRuns: FUZZ_RUNS, endOnFailure: true },
    );
    await expectServing();
    expect(client.stats.duplicates).toBe(0);
  });
});
