import { spawn } from 'node:child_process';
import avro from 'avsc';
import { firstValueFrom, filter, take, toArray, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchemaIncompatibleError } from '../../src/domain/errors.js';
import type { Batch, DeadLetter, InferenceRequest } from '../../src/domain/events/index.js';
import { AVRO_EVENTS, readAvroSchema } from '../../src/kafka/codecs/avro-events.js';
import { decodeBatch } from '../../src/kafka/codecs/batch-codec.js';
import { avroCodec, batchCodec, type TopicCodec } from '../../src/kafka/codecs/topic-codec.js';
import { CatchUp } from '../../src/kafka/catch-up.js';
import { consume } from '../../src/kafka/consumer-source.js';
import { createDeadLetterSink, dlqTopicOf } from '../../src/kafka/dead-letters.js';
import { endOffsets } from '../../src/kafka/offsets.js';
import { createProducer, type EventProducer } from '../../src/kafka/producer.js';
import { createRegistryClient, type RegistryClient } from '../../src/kafka/registry.js';
import { applyTopics } from '../../src/kafka/topics-admin.js';
import { loadTopicSpecs } from '../../src/kafka/topics.js';
import { goldenBatch, goldenRequest } from '../helpers/golden-events.js';
import { createTestTopic, readAll, testConfig, testKafka, testLogger, uniqueName, waitFor } from '../helpers/kafka.js';

const kafka = testKafka();
const logger = testLogger();
let registry: RegistryClient;
let producer: EventProducer;
const deadLetterCodec = (topic: string): Promise<TopicCodec<DeadLetter>> => avroCodec(registry, topic, 'dead-letter');

beforeAll(async () => {
  registry = createRegistryClient(testConfig().schemaRegistryUrl);
  producer = await createProducer(kafka);
});
afterAll(async () => producer?.disconnect());

describe('Kafka adapter against the real broker and registry', () => {
  it('carries a request encoded through the registry and decodes it equal, in Confluent framing', async () => {
    const topic = uniqueName('it.requests');
    await createTestTopic(kafka, topic);
    const codec = await avroCodec(registry, topic, 'inference-request');
    await producer.send(topic, [{ key: goldenRequest.model, value: await codec.encode(goldenRequest) }]);
    const [raw] = await readAll(kafka, topic, 1);
    const bytes = raw!.value!;
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(await registry.latestId(`${topic}-value`));
    const body = avro.Type.forSchema(JSON.parse(readAvroSchema('inference-request'))).toBuffer(AVRO_EVENTS['inference-request'].toAvro(goldenRequest));
    expect(bytes.subarray(5).equals(body)).toBe(true);
    const decoded: InferenceRequest = await codec.decode(bytes);
    expect({ ...decoded, tensor: [...decoded.tensor] }).toEqual({ ...goldenRequest, tensor: [...goldenRequest.tensor] });
  });

  it('round-trips a FlatBuffers batch and reads its tensor as a view into the message buffer', async () => {
    const topic = uniqueName('it.batches');
    await createTestTopic(kafka, topic);
    const codec = batchCodec(topic);
    await producer.send(topic, [{ key: goldenBatch.workerId, value: await codec.encode(goldenBatch) }]);
    let messageBuffer: Buffer | undefined;
    const source = consume<Batch>(kafka, {
      groupId: uniqueName('g'), topics: [topic], fromBeginning: true, deadLetters: createDeadLetterSink(producer, deadLetterCodec), logger,
      decode: async (bytes) => ((messageBuffer = bytes), decodeBatch(bytes)),
    });
    const delivery = await firstValueFrom(source.deliveries$.pipe(timeout(30_000)));
    delivery.ack();
    await source.close();
    const batch = delivery.value;
    expect(batch.members).toEqual(goldenBatch.members);
    expect([...batch.data]).toEqual([...goldenBatch.data]);
    // Zero-copy: the tensor bytes live inside the Kafka message's own memory.
    expect(batch.data.buffer).toBe(messageBuffer!.buffer);
    expect(batch.data.byteOffset).toBeGreaterThanOrEqual(messageBuffer!.byteOffset);
    expect(batch.data.byteOffset + batch.data.byteLength).toBeLessThanOrEqual(messageBuffer!.byteOffset + messageBuffer!.byteLength);
  });

  it('refuses an incompatible schema change with the registry reason', async () => {
    const subject = `${uniqueName('it.compat')}-value`;
    const v1 = JSON.stringify({ type: 'record', name: 'Probe', namespace: 'io.gpuflow.test', fields: [{ name: 'a', type: 'string' }] });
    const compatible = JSON.stringify({ type: 'record', name: 'Probe', namespace: 'io.gpuflow.test', fields: [{ name: 'a', type: 'string' }, { name: 'b', type: 'int', default: 0 }] });
    const breaking = JSON.stringify({ type: 'record', name: 'Probe', namespace: 'io.gpuflow.test', fields: [{ name: 'a', type: 'string' }, { name: 'c', type: 'long' }] });
    const id1 = await registry.register(subject, v1);
    expect(await registry.register(subject, compatible)).not.toBe(id1);
    const refusal = await registry.register(subject, breaking).then(() => null, (e: unknown) => e);
    expect(refusal).toBeInstanceOf(SchemaIncompatibleError);
    expect((refusal as SchemaIncompatibleError).reason).toMatch(/incompatible/i);
    expect((await registry.isCompatible(subject, breaking)).compatible).toBe(false);
  });

  it('registers a new subject from many places at once: every one gets the same id', async () => {
    // Processes start together and register the same subjects (a dead-letter topic's, say): the
    // registry creates the subject's compatibility rule once and refuses the other creations.
    for (let round = 0; round < 3; round++) {
      const subject = `${uniqueName('it.race')}-value`;
      const schema = JSON.stringify({ type: 'record', name: 'Race', namespace: 'io.gpuflow.test', fields: [{ name: 'a', type: 'string' }] });
      const ids = await Promise.all(Array.from({ length: 8 }, () => registry.register(subject, schema)));
      expect(new Set(ids).size).toBe(1);
    }
  });

  it('sends garbage to the dead-letter topic with the reason and keeps consuming', async () => {
    const topic = uniqueName('it.dlq');
    await createTestTopic(kafka, topic);
    await createTestTopic(kafka, dlqTopicOf(topic));
    const codec = await avroCodec(registry, topic, 'inference-request');
    await producer.send(topic, [
      { key: 'm', value: Buffer.from('definitely not avro') },
      { key: 'm', value: Buffer.from([0, 0, 0x7f, 0xff, 0xff, 1, 2, 3]) },
      { key: 'm', value: await codec.encode(goldenRequest) },
    ]);
    const source = consume(kafka, {
      groupId: uniqueName('g'), topics: [topic], fromBeginning: true, logger,
      decode: (bytes) => codec.decode(bytes), deadLetters: createDeadLetterSink(producer, deadLetterCodec),
    });
    const delivery = await firstValueFrom(source.deliveries$.pipe(timeout(30_000)));
    delivery.ack();
    await source.close();
    expect(delivery.value.requestId).toBe(goldenRequest.requestId);
    expect(delivery.offset).toBe('2');
    const dlqCodec = await deadLetterCodec(dlqTopicOf(topic));
    const letters = await Promise.all((await readAll(kafka, dlqTopicOf(topic), 2)).map((m) => dlqCodec.decode(m.value!)));
    expect(letters.map((l) => [l.sourceTopic, l.offset])).toEqual([[topic, '0'], [topic, '1']]);
    expect(letters[0]!.reason).toMatch(/not Confluent-framed/);
    expect(letters[1]!.reason).toMatch(/unknown schema id/);
    expect(Buffer.from(letters[0]!.value!).toString()).toBe('definitely not avro');
  });

  it("gives a tombstone the consumer's meaning, dead-letters one it has none for, and says where each dead letter was", async () => {
    const topic = uniqueName('it.tombstones');
    await createTestTopic(kafka, topic);
    await createTestTopic(kafka, dlqTopicOf(topic));
    const codec = await avroCodec(registry, topic, 'inference-request');
    await producer.send(topic, [
      { key: 'gone', value: null },
      { key: null, value: null },
      { key: 'm', value: await codec.encode(goldenRequest) },
      { key: 'm', value: Buffer.from('garbage last') },
    ]);
    const deadLettered: string[] = [];
    const catchUp = new CatchUp(await endOffsets(kafka, topic));
    let caughtUpBy = '';
    const source = consume<string>(kafka, {
      groupId: uniqueName('g'), topics: [topic], fromBeginning: true, logger,
      decode: async (bytes) => (await codec.decode(bytes)).requestId, tombstone: (key) => `deleted ${key.toString()}`,
      deadLetters: createDeadLetterSink(producer, deadLetterCodec),
      onDeadLettered: (p) => {
        deadLettered.push(`${p.topic}:${p.partition}:${p.offset}`);
        if (catchUp.seen(p.partition, p.offset)) caughtUpBy = p.offset;
      },
    });
    // Subscribed throughout: the source stops consuming when its last subscriber leaves.
    const values: [string, string][] = [];
    const subscription = source.deliveries$.subscribe((d) => {
      values.push([d.offset, d.value]);
      d.ack();
    });
    await waitFor('two deliveries and two dead letters', () => (values.length === 2 && deadLettered.length === 2) || undefined);
    subscription.unsubscribe();
    await source.close();
    expect(values).toEqual([['0', 'deleted gone'], ['2', goldenRequest.requestId]]);
    expect(deadLettered).toEqual([`${topic}:0:1`, `${topic}:0:3`]);
    // The malformed last message is what ends the read: a reader waiting for its end is not left waiting.
    expect(caughtUpBy).toBe('3');
    const dlqCodec = await deadLetterCodec(dlqTopicOf(topic));
    const letters = await Promise.all((await readAll(kafka, dlqTopicOf(topic), 2)).map((m) => dlqCodec.decode(m.value!)));
    expect(letters.map((l) => l.reason)).toEqual(['tombstone without a key', expect.stringMatching(/not Confluent-framed/)]);
  });

  it('applies topic declarations idempotently: the second run changes nothing', async () => {
    const prefix = uniqueName('it');
    const specs = loadTopicSpecs().slice(0, 3).map((s) => ({ ...s, name: `${prefix}.${s.name}` }));
    const first = await applyTopics(kafka, specs);
    expect(first.applied.map((c) => c.kind)).toEqual(['create', 'create', 'create']);
    const second = await applyTopics(kafka, specs);
    expect(second).toEqual({ applied: [], drift: [] });
    const altered = await applyTopics(kafka, specs.map((s, i) => (i === 0 ? { ...s, config: { ...s.config, 'retention.ms': '3600000' } } : s)));
    expect(altered.applied).toEqual([expect.objectContaining({ kind: 'alter-config', key: 'retention.ms', to: '3600000' })]);
  });

  it('commits only after processing: a consumer killed before acking gets the message again', async () => {
    const topic = uniqueName('it.commit');
    const groupId = uniqueName('g');
    await createTestTopic(kafka, topic);
    await producer.send(topic, [{ key: null, value: Buffer.from('first') }, { key: null, value: Buffer.from('second') }]);

    const runChild = async (ack: boolean): Promise<string[]> => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/consume-child.ts', topic, groupId], { env: { ...process.env, ACK: ack ? '1' : '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
      const lines: string[] = [];
      child.stdout.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
      await waitFor('both deliveries in the child', () => (lines.length >= 2 ? true : undefined), 60_000);
      if (ack) await new Promise((r) => setTimeout(r, 1500)); // two commit intervals
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      return lines.map((l) => (JSON.parse(l) as { value: string }).value);
    };

    expect(await runChild(false)).toEqual(['first', 'second']);
    // Killed without acking: the group never committed, so the next member gets both again.
    expect(await runChild(true)).toEqual(['first', 'second']);
    // That one acked and its commits landed before the kill: a third member gets nothing old.
    await producer.send(topic, [{ key: null, value: Buffer.from('third') }]);
    const source = consume(kafka, { groupId, topics: [topic], fromBeginning: true, logger, sessionTimeoutMs: 6000, decode: async (b) => b.toString(), deadLetters: createDeadLetterSink(producer, deadLetterCodec) });
    const next = await firstValueFrom(source.deliveries$.pipe(timeout(60_000)));
    next.ack();
    await source.close();
    expect(next.value).toBe('third');
  });

  it('pauses a partition at the in-flight bound and resumes as acks arrive, losing nothing', async () => {
    const topic = uniqueName('it.backpressure');
    await createTestTopic(kafka, topic);
    const total = 500;
    await producer.send(topic, Array.from({ length: total }, (_, i) => ({ key: null, value: Buffer.from(String(i)) })));
    let outstanding = 0;
    let maxOutstanding = 0;
    const source = consume(kafka, {
      groupId: uniqueName('g'), topics: [topic], fromBeginning: true, logger, maxInFlight: 20,
      decode: async (b) => Number(b.toString()), deadLetters: createDeadLetterSink(producer, deadLetterCodec),
    });
    const values = await firstValueFrom(
      source.deliveries$.pipe(
        filter((d) => {
          outstanding++;
          maxOutstanding = Math.max(maxOutstanding, outstanding);
          // Slow downstream: ack a little later.
          setTimeout(() => (outstanding--, d.ack()), 2);
          return true;
        }),
        take(total),
        toArray(),
        timeout(60_000),
      ),
    );
    await source.close();
    expect(maxOutstanding).toBeLessThanOrEqual(20);
    expect(values.map((d) => d.value)).toEqual(Array.from({ length: total }, (_, i) => i));
  });
});
