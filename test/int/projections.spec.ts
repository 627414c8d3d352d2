/**
 * Projections against the real stack: a live projector's read models, a `gpuflow replay
 * --projections` rebuild from the start of the log, and a projector killed with SIGKILL mid-fold
 * then restarted must all store the same documents and offsets, key by key. Each test run uses
 * its own topics (a topic prefix) so nothing else writes to what is compared.
 */
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { dumpProjections, offsetsKey } from '../../src/projections/redis-sink.js';
import { startProjector } from '../../src/services/projector.js';
import { produceTraffic } from '../helpers/projection-traffic.js';
import { testConfig, testKafka, testLogger, uniqueName, waitFor } from '../helpers/kafka.js';
import { children, exited } from '../helpers/processes.js';
import { traffic } from '../unit/projections/events.js';

const logger = testLogger();
const run = uniqueName('it-proj');
const topicPrefix = `${run}.`;
let redis: Redis;
let ends: Map<string, string>;
let events = 0;
const procs = children();
const gpuflow = (args: string[]): ChildProcess => procs.gpuflow(args, { stderr: 'pipe' });

async function storedOffsets(prefix: string): Promise<Record<string, string>> {
  return redis.hgetall(offsetsKey(prefix));
}

const caughtUp = async (prefix: string): Promise<boolean | undefined> => {
  const stored = await storedOffsets(prefix);
  return [...ends].every(([position, end]) => BigInt(stored[position] ?? '0') >= BigInt(end)) || undefined;
};

/** The dump with the prefix taken off each key, so two prefixes compare key by key. */
async function state(prefix: string): Promise<Record<string, Record<string, string>>> {
  const dump = await dumpProjections(redis, prefix);
  return Object.fromEntries([...dump].map(([key, hash]) => [key.slice(prefix.length), hash]));
}

beforeAll(async () => {
  redis = new Redis(testConfig().redisUrl);
  const list = traffic(3_000, Date.now());
  events = list.length;
  ends = await produceTraffic(topicPrefix, list);
});

afterAll(async () => {
  await procs.killAll();
  const keys = await redis.keys(`${run}-*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('projections on the real stack', () => {
  const live = `${run}-live`;

  it('a live projector folds every event into Redis with the offsets it reached', async () => {
    const projector = await startProjector(testKafka(), createRegistryClient(testConfig().schemaRegistryUrl), redis, logger, {
      groupId: `${run}-live`, prefix: live, topicPrefix, metricsPort: null, sessionTimeoutMs: 6_000,
    });
    await waitFor('the live projector to reach the end of the log', () => caughtUp(live), 60_000);
    await projector.stop();
    const s = await state(live);
    const sla = Object.values(s[':tenant-sla:v1'] ?? {}).map((json) => JSON.parse(json) as { total: number; rejected: number });
    expect(sla.reduce((n, d) => n + d.total, 0)).toBe(3_000);
    expect(sla.reduce((n, d) => n + d.rejected, 0)).toBe(300);
    const offsets = await storedOffsets(live);
    expect(Object.keys(offsets).length).toBe(ends.size);
    expect(Object.values(offsets).reduce((n, o) => n + Number(o), 0)).toBe(events);
  });

  it('`gpuflow replay --projections` rebuilds state equal to the live one, key by key', async () => {
    const rebuilt = `${run}-rebuilt`;
    const child = gpuflow(['replay', '--projections', '--db', '0', '--prefix', rebuilt, '--topic-prefix', topicPrefix]);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await exited(child)).toBe(0);
    expect(stderr).toMatch(/replay \[#+\] \d+\/\d+ 100%/);
    const [a, b] = [await state(live), await state(rebuilt)];
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const key of Object.keys(a)) expect(b[key], key).toEqual(a[key]);
    // Into a target that is not empty it refuses, and says why.
    const again = gpuflow(['replay', '--projections', '--db', '0', '--prefix', rebuilt, '--topic-prefix', topicPrefix]);
    let err = '';
    again.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    expect(await exited(again)).toBe(2);
    expect(err).toMatch(/already holds/);
  });

  it('a projector killed with SIGKILL mid-fold and restarted ends with the same state as an uninterrupted run', async () => {
    const killed = `${run}-killed`;
    const args = ['projector', '--prefix', killed, '--metrics-port', '0', '--topic-prefix', topicPrefix, '--group', `${run}-killed`, '--session-timeout-ms', '6000'];
    const first = gpuflow(args);
    // As soon as some, not all, of the log is stored: kill.
    await waitFor('the first batches to be stored', async () => Object.keys(await storedOffsets(killed)).length > 0 || undefined, 90_000, 5);
    first.kill('SIGKILL');
    await exited(first);
    expect(await caughtUp(killed)).toBeUndefined();
    const second = gpuflow(args);
    await waitFor('the restarted projector to reach the end of the log', () => caughtUp(killed), 90_000);
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
    const [a, b] = [await state(live), await state(killed)];
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const key of Object.keys(a)) expect(b[key], key).toEqual(a[key]);
  });
});
