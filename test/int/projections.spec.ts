/**
 * Projections against the real stack: a live projector's read models, a `gpuflow replay
 * --projections` rebuild from the start of the log, and a projector killed with SIGKILL mid-fold
 * then restarted must all store the same documents and offsets, key by key. Each test run uses
 * its own topics (a topic prefix) so nothing else writes to what is compared.
 */
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { avroCodec } from '../../src/kafka/codecs/topic-codec.js';
import { dlqTopicOf } from '../../src/kafka/dead-letters.js';
import { createProducer } from '../../src/kafka/producer.js';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { PROJECTED_SOURCES } from '../../src/projections/events.js';
import { dumpProjections, offsetsKey } from '../../src/projections/redis-sink.js';
import { replayProjections, startProjector } from '../../src/services/projector.js';
import { produceTraffic } from '../helpers/projection-traffic.js';
import { createTestTopic, testConfig, testKafka, testLogger, uniqueName, waitFor } from '../helpers/kafka.js';
import { children, exited } from '../helpers/processes.js';
import { result, traffic, wireValue } from '../unit/projections/events.js';

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
    // m1's tombstone came last: it is retired, with the version it had listed.
    const versions = (model: string) => JSON.parse(s[':model-versions:v1']?.[`model/${model}`] ?? '{}') as { current?: string; versions?: Record<string, unknown> };
    expect(versions('m1')).toMatchObject({ current: '', versions: { '1': expect.anything() } });
    expect(versions('m0').current).toBe('2');
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

  it('a message dead-lettered once is not dead-lettered again by a restarted projector or a rebuild', async () => {
    // Its own topics: a bad message left as the tail of a partition stores no position in Redis,
    // so a restart reads it again; only the group's commits say it was handled.
    const prefix = `${run}-dl.`;
    const kafka = testKafka();
    const registry = createRegistryClient(testConfig().schemaRegistryUrl);
    await produceTraffic(prefix, [result(1, 'OK', 1)]);
    const topic = prefix + PROJECTED_SOURCES.result.topic;
    const dlq = dlqTopicOf(topic);
    await createTestTopic(kafka, dlq, 1);
    const codec = await avroCodec(registry, topic, PROJECTED_SOURCES.result.schema);
    const admin = kafka.admin();
    await admin.connect();
    const producer = await createProducer(kafka);
    const endOf = async (t: string, partition: number): Promise<bigint> => BigInt((await admin.fetchTopicOffsets(t)).find((o) => o.partition === partition)!.high);
    const dlqEntries = async (): Promise<bigint> => (await admin.fetchTopicOffsets(dlq)).reduce((n, o) => n + BigInt(o.high) - BigInt(o.low), 0n);
    const options = { groupId: `${run}-dl`, prefix: `${run}-dl`, topicPrefix: prefix, metricsPort: null, sessionTimeoutMs: 6_000 };
    try {
      await producer.send(topic, [{ key: null, value: Buffer.from('not an event'), partition: 0 }]);
      const bad = (await endOf(topic, 0)) - 1n;
      const first = await startProjector(kafka, registry, redis, logger, options);
      await waitFor('the bad message to be committed as handled', async () => {
        const [offsets] = await admin.fetchOffsets({ groupId: options.groupId, topics: [topic] });
        return BigInt(offsets!.partitions.find((p) => p.partition === 0)!.offset) > bad || undefined;
      }, 60_000);
      await first.stop();
      expect(await dlqEntries()).toBe(1n);
      expect(BigInt((await storedOffsets(options.prefix))[`${topic}:0`] ?? '0')).toBeLessThanOrEqual(bad);

      // A good event after it: once the restarted projector stores its position, it has read the bad one again.
      const { key, value } = wireValue(result(2, 'OK', 2));
      await producer.send(topic, [{ key, value: await codec.encode(value as never), partition: 0 }]);
      const end = await endOf(topic, 0);
      const second = await startProjector(kafka, registry, redis, logger, options);
      await waitFor('the restarted projector to pass the bad message', async () => BigInt((await storedOffsets(options.prefix))[`${topic}:0`] ?? '0') >= end || undefined, 60_000);
      await second.stop();
      expect(await dlqEntries()).toBe(1n);

      await replayProjections(kafka, registry, redis, logger, { prefix: `${run}-dl-rebuilt`, topicPrefix: prefix });
      expect(await dlqEntries()).toBe(1n);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
