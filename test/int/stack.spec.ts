/**
 * The local stack against itself: status, idempotent up, each service answering as a client
 * would use it, and a full down/up cycle that keeps the data. Other int files run after this one
 * (fileParallelism is off), so it leaves the stack up.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { StackError } from '../../src/domain/errors.js';
import { createTopicsAndWait } from '../../src/kafka/create-topics.js';
import { createLogger } from '../../src/log.js';
import { stackDown, stackStatus, stackUp, type ComponentName } from '../../src/stack/index.js';
import { kafkaAnswers } from '../../src/stack/kafka.js';

const stack = inject('gpuflowStack');
// The setup exports the addresses as KAFKA_BROKERS etc.; here only truly external services count as external.
const env: Record<string, string | undefined> = { ...process.env };
if (!stack.external.kafka) delete env.KAFKA_BROKERS;
if (!stack.external.registry) delete env.SCHEMA_REGISTRY_URL;
if (!stack.external.redis) delete env.REDIS_URL;
const config = loadConfig(env);
const logger = createLogger({ scope: 'test.stack' }, 'warn');
const managed: ComponentName[] = (['redis', 'prometheus', 'kafka', 'registry'] as const).filter(
  (name) => name === 'prometheus' || !stack.external[name],
);
const [kafkaHost, kafkaPortText] = config.kafkaBrokers[0]!.split(':');
const kafkaPort = Number(kafkaPortText);
const registry = config.schemaRegistryUrl;
const CONTENT = { 'Content-Type': 'application/vnd.schemaregistry.v1+json' };

function avroRecord(fields: object[]): string {
  return JSON.stringify({ schema: JSON.stringify({ type: 'record', name: 'Probe', namespace: 'gpuflow.test', fields }) });
}

/** Soft then permanent delete, as the Confluent API wants, so test subjects do not pile up in the stored registry. */
async function dropSubject(subject: string): Promise<void> {
  await fetch(`${registry}/subjects/${subject}`, { method: 'DELETE' });
  await fetch(`${registry}/subjects/${subject}?permanent=true`, { method: 'DELETE' });
}

/** A port nothing listens on right now, chosen by the kernel. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function post(path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${registry}${path}`, { method: 'POST', headers: CONTENT, body });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('local stack', () => {
  it('exports its addresses to the test workers', () => {
    expect(process.env.KAFKA_BROKERS).toBe(stack.kafkaBrokers.join(','));
    expect(process.env.SCHEMA_REGISTRY_URL).toBe(stack.schemaRegistryUrl);
    expect(process.env.REDIS_URL).toBe(stack.redisUrl);
  });

  it('reports every component running at its address', async () => {
    const statuses = await stackStatus(config);
    expect(statuses.map((s) => s.name)).toEqual(['redis', 'prometheus', 'kafka', 'registry']);
    const byName = Object.fromEntries(statuses.map((s) => [s.name, s]));
    expect(byName.redis).toMatchObject({ state: stack.external.redis ? 'external' : 'running', address: stack.redisUrl });
    expect(byName.kafka).toMatchObject({ state: stack.external.kafka ? 'external' : 'running', address: stack.kafkaBrokers.join(',') });
    expect(byName.registry).toMatchObject({ state: stack.external.registry ? 'external' : 'running', address: stack.schemaRegistryUrl });
    expect(byName.prometheus).toMatchObject({ state: 'running', address: stack.prometheusUrl });
    for (const status of statuses.filter((s) => s.state === 'running' && s.pid !== undefined)) expect(status.detail).toContain(`${status.name}.log`);
  });

  it('changes nothing on a second up', async () => {
    const before = await stackStatus(config);
    const began = Date.now();
    const result = await stackUp(config, logger);
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(result.started).toEqual([]);
    expect([...result.alreadyRunning].sort()).toEqual([...managed].sort());
    expect(await stackStatus(config)).toEqual(before);
  });

  it('answers PING on Redis', async () => {
    const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it('answers Kafka ApiVersions, and kafkajs creates, produces a 16 MiB record, consumes in a group and commits', async () => {
    expect(await kafkaAnswers(kafkaHost!, kafkaPort)).toBe(true);
    const kafka = new kafkajs.Kafka({ clientId: 'stack-spec', brokers: config.kafkaBrokers, logLevel: kafkajs.logLevel.NOTHING });
    const topic = `stack-spec-${randomUUID()}`;
    const groupId = `stack-spec-${randomUUID()}`;
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const consumer = kafka.consumer({ groupId, maxBytesPerPartition: 32 * 1024 * 1024, maxBytes: 64 * 1024 * 1024 });
    await admin.connect();
    try {
      await createTopicsAndWait(admin, [{ topic, numPartitions: 2 }]);
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(metadata.topics[0]!.partitions).toHaveLength(2);
      const big = Buffer.alloc(16 * 1024 * 1024, 0x5a);
      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'big', value: big, partition: 0 }] });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no record within 60s')), 60_000);
        void consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
            clearTimeout(timer);
            resolve(message.value!);
          },
        });
      });
      expect(received.equals(big)).toBe(true);
      await consumer.stop();
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(offsets[0]!.partitions.find((p) => p.partition === 0)!.offset).toBe('1');
      await admin.deleteTopics({ topics: [topic] });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('serves the Confluent API: register, fetch by id, compatibility config and refusal', async () => {
    const subject = `stack-spec-${randomUUID()}-value`;
    const v1 = avroRecord([{ name: 'a', type: 'string' }]);
    const compatible = avroRecord([
      { name: 'a', type: 'string' },
      { name: 'b', type: 'int', default: 0 },
    ]);
    const incompatible = avroRecord([
      { name: 'a', type: 'string' },
      { name: 'c', type: 'int' },
    ]);
    const registered = await post(`/subjects/${subject}/versions`, v1);
    expect(registered.status).toBe(200);
    const id = registered.json.id as number;
    expect((await post(`/subjects/${subject}/versions`, v1)).json.id).toBe(id);
    const byId = await fetch(`${registry}/schemas/ids/${id}`);
    expect(byId.status).toBe(200);
    expect(JSON.parse(((await byId.json()) as { schema: string }).schema)).toMatchObject({ name: 'Probe' });
    const setCompatibility = await fetch(`${registry}/config/${subject}`, { method: 'PUT', headers: CONTENT, body: JSON.stringify({ compatibility: 'BACKWARD' }) });
    expect(setCompatibility.status).toBe(200);
    expect((await post(`/compatibility/subjects/${subject}/versions/latest`, incompatible)).json.is_compatible).toBe(false);
    expect((await post(`/compatibility/subjects/${subject}/versions/latest`, compatible)).json.is_compatible).toBe(true);
    const refused = await post(`/subjects/${subject}/versions`, incompatible);
    expect(refused.status).toBe(409);
    expect(String(refused.json.message)).toMatch(/incompatible/i);
    expect((await post(`/subjects/${subject}/versions`, compatible)).status).toBe(200);
    await dropSubject(subject);
  });

  it('is ready on Prometheus, scraping the gpuflow metrics endpoint and itself', async () => {
    expect((await fetch(`${stack.prometheusUrl}/-/ready`)).status).toBe(200);
    const targets = (await (await fetch(`${stack.prometheusUrl}/api/v1/targets`)).json()) as {
      data: { activeTargets: { labels: { job: string }; scrapeUrl: string }[] };
    };
    const urls = Object.fromEntries(targets.data.activeTargets.map((t) => [t.labels.job, t.scrapeUrl]));
    expect(urls.gpuflow).toBe(`http://127.0.0.1:${config.metricsPort}/metrics`);
    expect(urls.prometheus).toBe(`${stack.prometheusUrl}/metrics`);
  });

  it('stops and starts again, keeping Redis keys, registry schemas and Kafka topics', { timeout: 300_000 }, async () => {
    const marker = randomUUID();
    const subject = `stack-spec-${marker}-value`;
    const topic = `stack-spec-${marker}`;
    const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const kafka = new kafkajs.Kafka({ clientId: 'stack-spec', brokers: config.kafkaBrokers, logLevel: kafkajs.logLevel.NOTHING });
    await redis.connect();
    await redis.set(`stack-spec:${marker}`, marker);
    redis.disconnect();
    const schemaId = (await post(`/subjects/${subject}/versions`, avroRecord([{ name: 'a', type: 'long' }]))).json.id;
    let admin = kafka.admin();
    await admin.connect();
    await createTopicsAndWait(admin, [{ topic }]);
    await admin.disconnect();

    await stackDown(config, logger, { only: managed });
    const down = await stackStatus(config);
    for (const name of managed) expect(down.find((s) => s.name === name)).toMatchObject({ state: 'stopped' });

    const result = await stackUp(config, logger);
    expect([...result.started].sort()).toEqual([...managed].sort());
    const up = await stackStatus(config);
    for (const name of managed) expect(up.find((s) => s.name === name)).toMatchObject({ state: 'running', pid: expect.any(Number) });

    const again = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await again.connect();
    try {
      expect(await again.get(`stack-spec:${marker}`)).toBe(marker);
      await again.del(`stack-spec:${marker}`);
    } finally {
      again.disconnect();
    }
    expect((await (await fetch(`${registry}/subjects/${subject}/versions/latest`)).json()) as object).toMatchObject({ id: schemaId, version: 1 });
    await dropSubject(subject);
    admin = kafka.admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).toContain(topic);
      await admin.deleteTopics({ topics: [topic] });
    } finally {
      await admin.disconnect();
    }
  });
});

describe('a component that cannot start', () => {
  // A home and ports of their own, so the stack above is not touched.
  const scratch = mkdtempSync(join(tmpdir(), 'gpuflow-stack-spec-'));
  let isolated = loadConfig({ GPUFLOW_HOME: scratch });
  beforeAll(async () => {
    isolated = loadConfig({ GPUFLOW_HOME: scratch, GPUFLOW_REDIS_PORT: String(await freePort()), GPUFLOW_PROMETHEUS_PORT: String(await freePort()) });
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  async function failure(run: () => Promise<unknown>): Promise<StackError> {
    const error = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StackError);
    return error as StackError;
  }

  it('says which component, why, and what to install when its program is missing', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const error = await failure(() => stackUp(isolated, logger, { only: ['redis'] }));
      expect(error.component).toBe('redis');
      expect(error.message).toContain('redis-server is not installed');
      expect(error.hint).toBe('apt-get install redis-server');
    } finally {
      process.env.PATH = path;
    }
  });

  it('refuses a port taken by something else', async () => {
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(isolated.stack.redisPort, '127.0.0.1', resolve));
    try {
      const error = await failure(() => stackUp(isolated, logger, { only: ['redis'] }));
      expect(error.component).toBe('redis');
      expect(error.message).toContain(`port ${isolated.stack.redisPort} is taken`);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('quotes the last lines of the log when the process exits during start, and leaves nothing running', async () => {
    const error = await failure(() => stackUp(isolated, logger, { only: ['prometheus'], scrapeInterval: 'soon' }));
    expect(error.component).toBe('prometheus');
    expect(error.message).toContain('exited during start');
    expect(error.message).toMatch(/not a valid duration|error loading config/i);
    expect(error.hint).toContain('apt-get install prometheus');
    const status = (await stackStatus(isolated)).find((s) => s.name === 'prometheus');
    expect(status).toMatchObject({ state: 'stopped' });
    expect(status!.pid).toBeUndefined();
  });
});
