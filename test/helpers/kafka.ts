/** Helpers for tests against the real stack: unique names, waiting without sleeps, raw produce. */
import { randomUUID } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { createKafka, type Kafka } from '../../src/kafka/client.js';
import type { ModelManifest } from '../../src/domain/events/manifest.js';
import { createTopicsAndWait } from '../../src/kafka/create-topics.js';
import type { AvroEventName, AvroEventOf } from '../../src/kafka/codecs/avro-events.js';
import { avroCodec, codecsByTopic } from '../../src/kafka/codecs/topic-codec.js';
import { consume, type ConsumerSource, type Delivery } from '../../src/kafka/consumer-source.js';
import { createDeadLetterSink } from '../../src/kafka/dead-letters.js';
import { endOffsets } from '../../src/kafka/offsets.js';
import { createProducer, type EventProducer } from '../../src/kafka/producer.js';
import { createRegistryClient, type RegistryClient } from '../../src/kafka/registry.js';
import { publishManifest } from '../../src/services/manifests.js';

export const testConfig = (): Config => loadConfig(process.env);
export const testLogger = () => createLogger({ test: true }, (process.env.GPUFLOW_TEST_LOG as 'debug' | undefined) ?? 'error');
export const testKafka = (): Kafka => createKafka(testConfig(), testLogger());

/** A name no other test (or earlier run) uses: topics and groups are never shared between tests. */
export const uniqueName = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function createTestTopic(kafka: Kafka, topic: string, partitions = 1): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await createTopicsAndWait(admin, [{ topic, numPartitions: partitions, replicationFactor: 1 }]);
  } finally {
    await admin.disconnect();
  }
}

/** Reads every message of a topic from the start with a throwaway group, until `count` arrived. */
export async function readAll(kafka: Kafka, topic: string, count: number, timeoutMs = 30_000): Promise<{ key: Buffer | null; value: Buffer | null; headers: Record<string, unknown>; offset: string }[]> {
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 100 });
  const seen: { key: Buffer | null; value: Buffer | null; headers: Record<string, unknown>; offset: string }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void seen.push({ key: message.key, value: message.value, headers: message.headers ?? {}, offset: message.offset }) });
  try {
    await waitFor(`${count} messages on ${topic}`, () => (seen.length >= count ? true : undefined), timeoutMs);
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/** Publishes `manifest` on models.manifests, as a model owner would. */
export async function publishTestManifest(manifest: ModelManifest): Promise<void> {
  const producer = await createProducer(testKafka());
  try {
    await publishManifest(producer, createRegistryClient(testConfig().schemaRegistryUrl), manifest);
  } finally {
    await producer.disconnect();
  }
}

/**
 * Consumes `topic` from its end as it is now, each delivery to `onDelivery` (the source starts on
 * subscription); resolves once the consumer has its partitions, so nothing produced afterwards is
 * missed.
 */
export async function consumeFromEnd<N extends AvroEventName>(
  kafka: Kafka,
  registry: RegistryClient,
  producer: EventProducer,
  options: { groupId: string; topic: string; event: N },
  onDelivery: (d: Delivery<AvroEventOf<N>>) => void,
): Promise<ConsumerSource<AvroEventOf<N>>> {
  const codec = await avroCodec(registry, options.topic, options.event);
  const start = await endOffsets(kafka, options.topic);
  let joined!: () => void;
  const assigned = new Promise<void>((resolve) => (joined = resolve));
  const source = consume(kafka, {
    groupId: options.groupId, topics: [options.topic], decode: (b) => codec.decode(b), deadLetters: createDeadLetterSink(producer, codecsByTopic(registry, 'dead-letter')),
    logger: testLogger(), startAt: (_t, p) => start.get(p), onAssignment: () => joined(),
  });
  source.deliveries$.subscribe(onDelivery);
  await assigned;
  return source;
}
