/** What every entry point needs before it runs: the stack up (unless external), topics applied, schemas registered. */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { createKafka, type Kafka } from '../kafka/client.js';
import { registerSchemas } from '../kafka/codecs/topic-codec.js';
import { createRegistryClient, type RegistryClient } from '../kafka/registry.js';
import { applyTopics } from '../kafka/topics-admin.js';
import { loadTopicSpecs, type TopicSpec } from '../kafka/topics.js';
import { stackUp } from '../stack/index.js';

export interface Platform {
  kafka: Kafka;
  registry: RegistryClient;
  topics: TopicSpec[];
}

export async function bootstrap(config: Config, logger: Logger, options: { startStack: boolean }): Promise<Platform> {
  if (options.startStack) await stackUp(config, logger);
  const topics = loadTopicSpecs(undefined, config.topicReplication);
  const kafka = createKafka(config, logger);
  const report = await applyTopics(kafka, topics);
  logger.info('topics.applied', { changes: report.applied.length, drift: report.drift.length });
  const registry = createRegistryClient(config.schemaRegistryUrl);
  const ids = await registerSchemas(registry, topics);
  logger.info('schemas.registered', { subjects: ids.size });
  return { kafka, registry, topics };
}
