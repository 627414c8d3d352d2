/**
 * `gpuflow results tail`: follows a result topic, one line per distinct result. A tenant
 * (GPUFLOW_TENANT or --tenant) follows its own topic, `inference.results.TENANT`.
 */
import { TENANT_NAME } from '../../config.js';
import { ConfigError } from '../../domain/errors.js';
import type { InferenceResult } from '../../domain/events/result.js';
import { createKafka } from '../../kafka/client.js';
import { avroCodec, codecsByTopic } from '../../kafka/codecs/topic-codec.js';
import { consume } from '../../kafka/consumer-source.js';
import { createDeadLetterSink } from '../../kafka/dead-letters.js';
import { createProducer } from '../../kafka/producer.js';
import { createRegistryClient } from '../../kafka/registry.js';
import { loggedDeadLetters, resultsReading } from '../../client/results-reading.js';
import type { Command } from '../command.js';

export function formatResult(r: InferenceResult): string {
  const total = (r.latency.queueUs + r.latency.batchUs + r.latency.transferUs + r.latency.computeUs) / 1000;
  const where = r.status === 'OK' ? `${r.workerId} batch ${r.batchId}${r.simulated ? ' (simulated)' : ''}` : r.reason;
  return `${r.status.padEnd(8)} ${r.requestId} ${r.tenant}/${r.sloClass} ${r.model}:${r.modelVersion} ${total.toFixed(1)} ms  ${where}`;
}

export const resultsCommand: Command = {
  name: 'results',
  logLevel: 'warn',
  summary: 'follow inference results as they arrive',
  usage: 'gpuflow results tail [--tenant T] [--topic T] [--from-beginning] [--limit N]',
  flags: {
    tenant: { type: 'string', description: "follow this tenant's results topic (default: GPUFLOW_TENANT)" },
    topic: { type: 'string', description: "result topic (default: the tenant's, or inference.results)" },
    'from-beginning': { type: 'boolean', description: 'start at the oldest retained result' },
    limit: { type: 'number', description: 'stop after N results (0: follow until interrupted)', default: 0, integer: true, min: 0 },
  },
  async run({ positionals, flags }, { config, logger, print }) {
    if (positionals[0] !== 'tail') throw new ConfigError(`results: expected 'tail', got '${positionals[0] ?? ''}'`);
    const tenant = typeof flags.tenant === 'string' ? flags.tenant : config.tenant;
    if (tenant !== null && !TENANT_NAME.test(tenant)) throw new ConfigError(`results: --tenant must match ${TENANT_NAME}, got '${tenant}'`);
    const { topic, groupId } = resultsReading(tenant, 'tail', typeof flags.topic === 'string' ? flags.topic : undefined);
    const kafka = createKafka(config, logger);
    const registry = createRegistryClient(config.schemaRegistryUrl);
    const codec = await avroCodec(registry, topic, 'inference-result');
    const producer = await createProducer(kafka);
    const source = consume(kafka, {
      groupId, topics: [topic], fromBeginning: Boolean(flags['from-beginning']), logger,
      decode: (b) => codec.decode(b), deadLetters: tenant ? loggedDeadLetters(logger) : createDeadLetterSink(producer, codecsByTopic(registry, 'dead-letter')),
    });
    const limit = Number(flags.limit);
    const seen = new Set<string>();
    let shown = 0;
    await new Promise<void>((resolve, reject) => {
      const sub = source.deliveries$.subscribe({
        next: (d) => {
          d.ack();
          if (seen.has(d.value.requestId)) return; // at-least-once delivery: show each request once
          seen.add(d.value.requestId);
          // Remembers the last million ids, as the client SDK does, so a long tail stays bounded.
          if (seen.size > 1_000_000) seen.delete(seen.values().next().value as string);
          shown++;
          print(formatResult(d.value));
          if (limit > 0 && shown >= limit) resolve();
        },
        error: reject,
      });
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
      void sub;
    });
    await source.close();
    await producer.disconnect();
    return 0;
  },
};
