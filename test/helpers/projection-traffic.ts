/** Test traffic for the projection tests, on their own prefixed topics. */
import { avroCodec } from '../../src/kafka/codecs/topic-codec.js';
import { createProducer } from '../../src/kafka/producer.js';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { PROJECTED_KINDS, PROJECTED_SOURCES, type ProjectedEvent } from '../../src/projections/events.js';
import { wireValue } from '../unit/projections/events.js';
import { createTestTopic, testConfig, testKafka } from './kafka.js';

/** Produces the events to the prefixed topics (3 partitions each); returns 'topic:partition' → end offset. */
export async function produceTraffic(prefix: string, list: ProjectedEvent[]): Promise<Map<string, string>> {
  const kafka = testKafka();
  const registry = createRegistryClient(testConfig().schemaRegistryUrl);
  const producer = await createProducer(kafka);
  try {
    for (const kind of PROJECTED_KINDS) {
      const topic = prefix + PROJECTED_SOURCES[kind].topic;
      await createTestTopic(kafka, topic, 3);
      const codec = await avroCodec(registry, topic, PROJECTED_SOURCES[kind].schema);
      const mine = list.filter((e) => e.kind === kind);
      for (let i = 0; i < mine.length; i += 500) {
        const messages = await Promise.all(mine.slice(i, i + 500).map(async (e) => {
          const { key, value } = wireValue(e);
          return { key, value: value === null ? null : await codec.encode(value as never) };
        }));
        await producer.send(topic, messages);
      }
    }
  } finally {
    await producer.disconnect();
  }
  const admin = kafka.admin();
  await admin.connect();
  const out = new Map<string, string>();
  try {
    for (const kind of PROJECTED_KINDS) {
      const topic = prefix + PROJECTED_SOURCES[kind].topic;
      for (const o of await admin.fetchTopicOffsets(topic)) if (o.high !== '0') out.set(`${topic}:${o.partition}`, o.high);
    }
  } finally {
    await admin.disconnect();
  }
  return out;
}
