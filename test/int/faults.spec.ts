/**
 * Faults of the read side against the real stack, under load: the projector killed with SIGKILL
 * and restarted, and the stack's Redis stopped and started again. The pipeline (a dispatcher and
 * two simulated workers, each its own process) must answer every request exactly once throughout,
 * and the projector's read models must end equal, key by key, to a `gpuflow replay --projections`
 * rebuild of the same log. Recovery times are measured and printed.
 */
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planArrivals } from '../../src/client/arrivals.js';
import { createClient, type GpuflowClient } from '../../src/client/client.js';
import { runLoad } from '../../src/client/load-run.js';
import { topReasons, type Outcome } from '../../src/client/summary.js';
import { loadTensor } from '../../src/cli/commands/submit.js';
import { loadConfig } from '../../src/config.js';
import { PROJECTED_KINDS, PROJECTED_SOURCES } from '../../src/projections/events.js';
import { dumpProjections, offsetsKey } from '../../src/projections/redis-sink.js';
import { bootstrap } from '../../src/services/bootstrap.js';
import { DEMO_MANIFEST } from '../../src/services/manifests.js';
import { stackDown, stackUp } from '../../src/stack/index.js';
import { redisAnswers } from '../../src/stack/redis.js';
import { publishTestManifest, testConfig, testKafka, testLogger, uniqueName, waitFor } from '../helpers/kafka.js';
import { children, kill, ready, running } from '../helpers/processes.js';

const logger = testLogger();
const run = uniqueName('faults');
const procs = children();
const live = `${run}-live`;
const projectorArgs = ['projector', '--prefix', live, '--group', `${run}-projector`, '--metrics-port', '0', '--session-timeout-ms', '6000'];

let client: GpuflowClient;
let redis: Redis;
let projector: ChildProcess;
let pipeline: ChildProcess[] = [];
/** Recovery figures, printed at the end. */
const measured: Record<string, number> = {};

/** The end offset of every non-empty partition the projections read: 'topic:partition' → end. */
async function logEnds(): Promise<Map<string, bigint>> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const ends = new Map<string, bigint>();
    for (const kind of PROJECTED_KINDS) {
      const topic = PROJECTED_SOURCES[kind].topic;
      for (const { partition, high } of await admin.fetchTopicOffsets(topic)) if (BigInt(high) > 0n) ends.set(`${topic}:${partition}`, BigInt(high));
    }
    return ends;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Whether the live projector has handled everything up to `ends`: applied and stored in Redis
 * (which holds its position with its state), or dead-lettered, which only its group's commits show.
 */
async function reached(ends: ReadonlyMap<string, bigint>): Promise<true | undefined> {
  const stored = await redis.hgetall(offsetsKey(live));
  const admin = testKafka().admin();
  await admin.connect();
  const committed = new Map<string, bigint>();
  try {
    const topics = [...new Set([...ends.keys()].map((p) => p.slice(0, p.lastIndexOf(':'))))];
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId: `${run}-projector`, topics })) {
      for (const { partition, offset } of partitions) committed.set(`${topic}:${partition}`, BigInt(offset));
    }
  } finally {
    await admin.disconnect();
  }
  return [...ends].every(([position, end]) => BigInt(stored[position] ?? '0') >= end || (committed.get(position) ?? -1n) >= end) || undefined;
}

/** The dump with the prefix taken off each key, so two prefixes compare key by key. */
async function state(prefix: string): Promise<Record<string, Record<string, string>>> {
  const dump = await dumpProjections(redis, prefix);
  return Object.fromEntries([...dump].map(([key, hash]) => [key.slice(prefix.length), hash]));
}

/** The stack's own Redis (REDIS_URL set by the test setup points at it; the stack manages it by its port). */
const stackConfig = () => loadConfig({ ...process.env, REDIS_URL: '' });

beforeAll(async () => {
  const config = testConfig();
  await bootstrap(config, logger, { startStack: false });
  await publishTestManifest(DEMO_MANIFEST);
  redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  // While Redis restarts this client reconnects on its own; the refused connections are expected.
  redis.on('error', () => undefined);
  client = await createClient(config, logger);
  pipeline = [
    procs.gpuflow(['dispatcher', '--group', run, '--start-at-end', '--tick-ms', '200', '--stats-ms', '0', '--session-timeout-ms', '6000']),
    procs.gpuflow(['worker', '--simulate', '--id', `${run}-w1`, '--slots', '2', '--heartbeat-ms', '500']),
    procs.gpuflow(['worker', '--simulate', '--id', `${run}-w2`, '--slots', '2', '--heartbeat-ms', '500']),
  ];
  projector = procs.gpuflow(projectorArgs);
  await Promise.all([...pipeline.map((c, i) => ready(c, `pipeline process ${i}`)), ready(projector, 'projector')]);
  // Served end to end before the load begins (the workers have joined).
  await waitFor('a first request to be served', () => client.infer({ model: DEMO_MANIFEST.model, tenant: 'acme', sloClass: 'batch', deadlineMs: 10_000, tensor: loadTensor(64)({} as never, 0) }).then((r) => r.status === 'OK' || undefined, () => undefined), 120_000, 500);
});

afterAll(async () => {
  console.log(`faults: recovery measured (ms): ${JSON.stringify(measured)}`);
  await procs.killAll();
  await client?.close();
  if (redis) {
    const keys = await redis.keys(`${run}-*`).catch(() => []);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

/** Steady load across tenants for `seconds`; `midway` runs half-way through. Every request must get its one answer. */
async function load(seconds: number, midway: () => Promise<void>): Promise<void> {
  const arrivals = planArrivals({
    ratePerSec: 100, durationSec: seconds, pattern: 'poisson', models: [DEMO_MANIFEST.model], tenants: { acme: 2, globex: 1 },
    classes: { interactive: 1, batch: 2 }, deadlines: { realtime: 2_000, interactive: 5_000, batch: 20_000 }, seed: 5,
  });
  const duplicates = client.stats.duplicates;
  const completed = client.stats.completed;
  const outcomes = runLoad(client, arrivals, { tensor: loadTensor(64), graceMs: 20_000 });
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 2));
  await midway();
  const done: Outcome[] = await outcomes;
  const why = JSON.stringify(topReasons(done));
  expect(done).toHaveLength(arrivals.length);
  expect(done.filter((o) => o.status === 'TIMEOUT' || o.status === 'FAILED'), why).toHaveLength(0);
  expect(done.filter((o) => o.status === 'OK').length, why).toBeGreaterThan(arrivals.length * 0.9);
  // The read side is not on the request path: a fault there re-delivers nothing to the client.
  expect(client.stats.completed - completed).toBe(arrivals.length);
  expect(client.stats.duplicates - duplicates).toBe(0);
  for (const c of pipeline) expect(running(c)).toBe(true);
}

describe('faults of the projector and of Redis under load', () => {
  it('a projector killed with SIGKILL mid-load is restarted and catches up; every request answered once', async () => {
    await load(10, async () => {
      const t0 = performance.now();
      expect(await kill(projector, 'SIGKILL')).toBeNull();
      const ends = await logEnds();
      projector = procs.gpuflow(projectorArgs);
      await ready(projector, 'restarted projector');
      measured.projectorRestartToReadyMs = Math.round(performance.now() - t0);
      await waitFor('the restarted projector to store everything logged before the kill', () => reached(ends), 90_000, 100);
      measured.projectorKillToCaughtUpMs = Math.round(performance.now() - t0);
    });
    expect(running(projector)).toBe(true);
  });

  it('a Redis restart mid-load: the projector rides it out (or is restarted) and catches up; every request answered once', async () => {
    const config = stackConfig();
    await load(10, async () => {
      const t0 = performance.now();
      await stackDown(config, logger, { only: ['redis'] });
      expect(await redisAnswers('127.0.0.1', config.stack.redisPort), 'the stack stopped its Redis').toBe(false);
      const ends = await logEnds();
      await stackUp(config, logger, { only: ['redis'] });
      measured.redisDownMs = Math.round(performance.now() - t0);
      // A projector whose write failed stops with an error; a supervisor restarts it (here: the test).
      await new Promise((r) => setTimeout(r, 500));
      if (!running(projector)) {
        measured.projectorExitedOnRedisLoss = 1;
        projector = procs.gpuflow(projectorArgs);
        await ready(projector, 'projector restarted after Redis came back');
      }
      await waitFor('the projector to store everything logged while Redis was down', () => reached(ends).catch(() => undefined), 90_000, 100);
      measured.redisStopToProjectorCaughtUpMs = Math.round(performance.now() - t0);
    });
  });

  it('after both faults the read models equal a `gpuflow replay --projections` rebuild, key by key', async () => {
    // Quiet the log: nothing may be written between the live projector's last event and the rebuild's end.
    await Promise.all(pipeline.map((c) => kill(c, 'SIGTERM')));
    const ends = await logEnds();
    await waitFor('the live projector to reach the end of the log', () => reached(ends), 90_000);
    expect(await kill(projector, 'SIGTERM')).toBe(0);
    const rebuilt = `${run}-rebuilt`;
    const replay = procs.gpuflow(['replay', '--projections', '--db', '0', '--prefix', rebuilt]);
    const code = await new Promise<number | null>((resolve) => replay.once('exit', resolve));
    expect(code).toBe(0);
    const [a, b] = [await state(live), await state(rebuilt)];
    expect(Object.keys(a).length).toBeGreaterThan(2);
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const key of Object.keys(a)) expect(b[key], key).toEqual(a[key]);
  });
});
