/**
 * The main job. For now: the local stack, topics and schemas, then a smoke round trip of
 * inference requests through the real broker and registry, with a summary table.
 */
import { randomUUID } from 'node:crypto';
import { filter, firstValueFrom, take, toArray, timeout } from 'rxjs';
import type { InferenceRequest } from '../../domain/events/request.js';
import { avroCodec } from '../../kafka/codecs/topic-codec.js';
import { encodeTensor, decodeTensor } from '../../kafka/codecs/tensor-codec.js';
import { consume } from '../../kafka/consumer-source.js';
import { createDeadLetterSink } from '../../kafka/dead-letters.js';
import { createProducer } from '../../kafka/producer.js';
import { bootstrap } from '../../services/bootstrap.js';
import type { Command } from '../command.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'bring up the local stack and run requests through it end to end (the main job)',
  usage: 'gpuflow demo [--requests N] [--no-stack]',
  flags: {
    requests: { type: 'number', description: 'how many requests to send', default: 200 },
    'no-stack': { type: 'boolean', description: 'use services already running (KAFKA_BROKERS, SCHEMA_REGISTRY_URL)' },
  },
  async run({ flags }, { config, logger, print }) {
    const count = Number(flags.requests);
    const started = Date.now();
    const { kafka, registry } = await bootstrap(config, logger, { startStack: !flags['no-stack'] && !config.external.kafka });
    const topic = 'inference.requests';
    const codec = await avroCodec(registry, topic, 'inference-request');
    const producer = await createProducer(kafka);
    const runId = randomUUID().slice(0, 8);
    const sent: InferenceRequest[] = Array.from({ length: count }, (_, i) => ({
      requestId: `${runId}-${i}`,
      model: 'resnet-demo',
      modelVersion: '',
      tenant: ['acme', 'globex', 'initech'][i % 3]!,
      sloClass: (['realtime', 'interactive', 'batch'] as const)[i % 3]!,
      deadlineMs: Date.now() + 1000,
      submittedAtMs: Date.now(),
      replyTo: 'inference.results',
      traceparent: '',
      tensor: encodeTensor({ dtype: 'FP32', shape: [1, 3, 8, 8], data: new Uint8Array(new Float32Array(192).fill(i).buffer) }),
    }));
    let assigned: () => void = () => undefined;
    const joined = new Promise<void>((resolve) => (assigned = resolve));
    const source = consume(kafka, {
      onAssignment: () => assigned(),
      groupId: `gpuflow-demo-${runId}`,
      topics: [topic],
      decode: (bytes) => codec.decode(bytes),
      deadLetters: createDeadLetterSink(producer, (t) => avroCodec(registry, t, 'dead-letter')),
      logger,
      fromBeginning: true,
    });
    const t0 = performance.now();
    const ours = new Set(sent.map((r) => r.requestId));
    // A new group reads from the beginning; earlier runs' requests are acked and skipped.
    const received = firstValueFrom(
      source.deliveries$.pipe(
        filter((d) => (ours.has(d.value.requestId) ? true : (d.ack(), false))),
        take(count),
        toArray(),
        timeout(60_000),
      ),
    );
    await joined;
    for (const r of sent) await producer.send(topic, [{ key: r.model, value: await codec.encode(r) }]);
    const deliveries = await received;
    const elapsedMs = performance.now() - t0;
    deliveries.forEach((d) => d.ack());
    const matched = deliveries.filter((d) => decodeTensor(d.value.tensor).shape.join('x') === '1x3x8x8');
    await source.close();
    await producer.disconnect();
    print('');
    print('gpuflow demo: smoke round trip (no GPU used; the live pipeline arrives with the dispatcher and workers)');
    print(`  requests sent       ${count}`);
    print(`  received, decoded   ${matched.length}`);
    print(`  round trip          ${elapsedMs.toFixed(0)} ms (Avro via ${config.schemaRegistryUrl}, Kafka ${config.kafkaBrokers.join(',')})`);
    print(`  total               ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return matched.length === count ? 0 : 1;
  },
};
