/**
 * Canary and shadow traffic against the real stack, with simulated workers as child processes:
 * a 10% canary gets 10% of the keys (within binomial bounds), stickily; a canary made slow is
 * rolled back automatically; a shadow version never answers a client and its divergence is measured.
 * Each test uses a model of its own, so the demo model other suites use is left as it is.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type GpuflowClient } from '../../src/client/client.js';
import { loadTensor } from '../../src/cli/commands/submit.js';
import type { InferenceResult, ModelManifest, RolloutAborted, SchedulerEvent } from '../../src/domain/events/index.js';
import { avroCodec } from '../../src/kafka/codecs/topic-codec.js';
import { createProducer } from '../../src/kafka/producer.js';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { requestKey, routeRequest } from '../../src/processors/traffic/route.js';
import { SHADOW_RESULTS_TOPIC } from '../../src/processors/traffic/shadow-copy.js';
import { metricFamilies } from '../../src/projections/metrics.js';
import { fold } from '../../src/projections/projection.js';
import { shadowDivergenceProjection } from '../../src/projections/shadow-divergence.js';
import { bootstrap } from '../../src/services/bootstrap.js';
import { DEMO_MANIFEST, publishManifest, readLiveManifests } from '../../src/services/manifests.js';
import { testConfig, testKafka, testLogger, uniqueName, waitFor } from '../helpers/kafka.js';
import { children, kill, ready } from '../helpers/processes.js';

const logger = testLogger();
const procs = children();
const run = randomUUID().slice(0, 6);
let client: GpuflowClient;

const worker = (id: string, env: NodeJS.ProcessEnv = {}): ChildProcess =>
  procs.gpuflow(['worker', '--simulate', '--id', `${id}-${run}`, '--slots', '4', '--heartbeat-ms', '500'], { env: { ...process.env, GPUFLOW_LOG: 'error', ...env } });
const dispatcher = (): ChildProcess => procs.gpuflow(['dispatcher', '--group', uniqueName('it-canary'), '--tick-ms', '200', '--start-at-end']);

const modelOf = (name: string): ModelManifest => ({
  ...DEMO_MANIFEST, model: `${name}-${run}`, weightsByVersion: { '1': DEMO_MANIFEST.weightsUri, '2': DEMO_MANIFEST.weightsUri, '3': DEMO_MANIFEST.weightsUri },
});

async function publish(m: ModelManifest): Promise<void> {
  const producer = await createProducer(testKafka());
  await publishManifest(producer, createRegistryClient(testConfig().schemaRegistryUrl), m);
  await producer.disconnect();
}

/** Starts a dispatcher and two workers and waits until they serve. */
async function stack(env: NodeJS.ProcessEnv = {}): Promise<ChildProcess[]> {
  const procsUp = [dispatcher(), worker('w1', env), worker('w2', env)];
  await Promise.all(procsUp.map((p, i) => ready(p, i === 0 ? 'dispatcher' : 'worker')));
  return procsUp;
}

const tensor = loadTensor(DEMO_MANIFEST.inputShape[0]!);
const infer = (c: GpuflowClient, model: string, requestId: string, deadlineMs = 20_000) =>
  c.infer({ model, tenant: 'acme', sloClass: 'batch', deadlineMs, requestId, tensor: tensor({} as never, 0) });

/** |observed - n p| within 4 standard deviations of a binomial(n, p). */
const withinBinomial = (observed: number, n: number, p: number): boolean => Math.abs(observed - n * p) <= 4 * Math.sqrt(n * p * (1 - p));

/** Every scheduler.events decision of `model` so far. */
async function decisionsOf(model: string): Promise<SchedulerEvent[]> {
  const codec = await avroCodec(createRegistryClient(testConfig().schemaRegistryUrl), 'scheduler.events', 'scheduler-event');
  const kafka = testKafka();
  const consumer = kafka.consumer({ groupId: uniqueName('it-canary-reader'), maxWaitTimeInMs: 100 });
  const out: SchedulerEvent[] = [];
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets('scheduler.events');
  await admin.disconnect();
  const target = ends.reduce((sum, p) => sum + Number(p.high), 0);
  let read = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: 'scheduler.events', fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      read++;
      if (message.key?.toString() === model && message.value) out.push(await codec.decode(message.value));
    },
  });
  try {
    await waitFor('scheduler.events read to its end', () => (read >= target ? true : undefined), 60_000);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

beforeAll(async () => {
  const config = testConfig();
  await bootstrap(config, logger, { startStack: false });
  client = await createClient(config, logger);
});

afterAll(async () => {
  await client?.close();
  await procs.killAll();
});

describe('canary and shadow traffic on the real stack', () => {
  it('sends a 10% canary 10% of the keys, each key to the version the sticky hash picks, again on a resend', async () => {
    const m = { ...modelOf('canary10'), canaryVersion: '2', canaryWeightPercent: 10 };
    await publish(m);
    const up = await stack();
    const ids = Array.from({ length: 800 }, (_, i) => `k${i}-${run}`);
    const first = await Promise.all(ids.map((id) => infer(client, m.model, id)));
    const onCanary = first.filter((r) => r.modelVersion === '2').length;
    expect(first.every((r) => r.status === 'OK')).toBe(true);
    expect(withinBinomial(onCanary, ids.length, 0.1), `${onCanary} of ${ids.length} on the canary`).toBe(true);
    // Each key went exactly where the pure routing says.
    for (const r of first) expect(r.modelVersion).toBe(routeRequest(m, requestKey(r), false).version);
    // A second client resends 200 of the keys: each meets its version again.
    const again = await createClient(testConfig(), logger);
    try {
      const second = await Promise.all(ids.slice(0, 200).map((id) => infer(again, m.model, id)));
      expect(second.map((r) => r.modelVersion)).toEqual(first.slice(0, 200).map((r) => r.modelVersion));
    } finally {
      await again.close();
    }
    await Promise.all(up.map((p) => kill(p, 'SIGTERM')));
  });

  it('rolls a slow canary back automatically: RolloutAborted, then every request on stable', async () => {
    const m = { ...modelOf('slow'), canaryVersion: '2', canaryWeightPercent: 50 };
    await publish(m);
    // Version 2 takes 5000 times its modelled service time (about 2 s a batch), past the 1 s deadline.
    const up = await stack({ GPUFLOW_SIMULATED_SLOWDOWN: `${m.model}@2=5000` });
    const pending: Promise<InferenceResult | null>[] = [];
    let aborted: RolloutAborted | undefined;
    for (let i = 0; i < 400 && aborted === undefined; i++) {
      pending.push(infer(client, m.model, `s${i}-${run}`, 1_000).catch(() => null));
      await new Promise((r) => setTimeout(r, 100));
      if (i % 20 === 19) aborted = (await decisionsOf(m.model)).find((e): e is RolloutAborted => e.type === 'RolloutAborted');
    }
    expect(aborted, 'a RolloutAborted decision').toBeDefined();
    expect(aborted).toMatchObject({ model: m.model, stableVersion: '1', canaryVersion: '2' });
    expect(aborted!.stableAttainment - aborted!.canaryAttainment).toBeGreaterThan(0.1);
    await Promise.all(pending);
    // From now on every request is served by stable. (The scheduler's service-time estimate is per
    // model, so the slow canary's batches still inflate it for a while: a long deadline keeps these
    // requests from being refused as unmeetable.)
    const later = await Promise.all(Array.from({ length: 60 }, (_, i) => infer(client, m.model, `after${i}-${run}`, 120_000)));
    expect(later.map((r) => r.modelVersion)).toEqual(later.map(() => '1'));
    // The rollback is on models.manifests: the live manifest keeps the canary named, with no traffic...
    const live = await waitFor('the rolled-back manifest', async () => {
      const mine = (await readLiveManifests(testKafka(), createRegistryClient(testConfig().schemaRegistryUrl), logger)).get(m.model)?.manifest;
      return mine?.canaryWeightPercent === 0 ? mine : undefined;
    }, 30_000, 500);
    expect(live).toMatchObject({ version: '1', canaryVersion: '2' });
    // ...so a dispatcher started after it routes nothing to the canary either.
    await kill(up[0]!, 'SIGTERM');
    const next = dispatcher();
    await ready(next, 'dispatcher');
    const afterRestart = await Promise.all(Array.from({ length: 60 }, (_, i) => infer(client, m.model, `restarted${i}-${run}`, 120_000)));
    expect(afterRestart.map((r) => r.modelVersion)).toEqual(afterRestart.map(() => '1'));
    await Promise.all([next, ...up.slice(1)].map((p) => kill(p, 'SIGTERM')));
  });

  it('runs a shadow version on a copy of each request, never answers a client with it, and measures its divergence', async () => {
    const m = { ...modelOf('shadow'), shadowVersion: '3' };
    await publish(m);
    const up = await stack();
    const versions = new Set<string>();
    const ids = new Set<string>();
    const seen = client.results$.subscribe((r) => (versions.add(r.modelVersion), ids.add(r.requestId)));
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => infer(client, m.model, `sh${i}-${run}`)));
    await new Promise((r) => setTimeout(r, 2_000)); // anything late would reach the client now
    seen.unsubscribe();
    expect(results.every((r) => r.status === 'OK' && r.modelVersion === '1')).toBe(true);
    expect([...ids].filter((id) => id.includes('~shadow'))).toEqual([]);
    expect(versions.has('3')).toBe(false);
    // The shadow topic holds the shadow's answers and copies of the clients': fold them as the projector does.
    const codec = await avroCodec(createRegistryClient(testConfig().schemaRegistryUrl), SHADOW_RESULTS_TOPIC, 'inference-result');
    const events: InferenceResult[] = [];
    const consumer = testKafka().consumer({ groupId: uniqueName('it-shadow-reader'), maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: SHADOW_RESULTS_TOPIC, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void (message.value && events.push(await codec.decode(message.value))) });
    const mine = () => events.filter((e) => e.model === m.model);
    try {
      await waitFor('200 shadow-topic results', () => (mine().length >= 200 ? true : undefined), 60_000);
    } finally {
      await consumer.disconnect();
    }
    expect(mine().filter((e) => e.requestId.endsWith('~shadow')).every((e) => e.modelVersion === '3')).toBe(true);
    const state = fold(shadowDivergenceProjection, mine().map((value) => ({ kind: 'shadow' as const, value })));
    const families = metricFamilies(new Map([['shadow-divergence', state]]), Date.now());
    const diff = families.find((f) => f.name === 'gpuflow_shadow_output_max_abs_diff')?.samples ?? [];
    const compared = families.find((f) => f.name === 'gpuflow_shadow_comparisons_total')?.samples ?? [];
    expect(diff).toEqual([{ labels: { model: m.model, version: '3' }, value: 0 }]); // simulated outputs are all zeros
    expect(compared[0]?.value).toBeGreaterThanOrEqual(90); // a few pairs may share a slot
    expect(families.find((f) => f.name === 'gpuflow_shadow_latency_delta_us')?.samples.length).toBeGreaterThan(0);
    await Promise.all(up.map((p) => kill(p, 'SIGTERM')));
  });
});
