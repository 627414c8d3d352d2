/** `gpuflow projector`: folds the topics into the Redis read models and serves them on /metrics. */
import { createKafka } from '../../kafka/client.js';
import { createRegistryClient } from '../../kafka/registry.js';
import { startProjector } from '../../services/projector.js';
import type { Command } from '../command.js';
import { untilSignal } from '../signals.js';
import { connectRedis } from '../../projections/redis-connection.js';

export const projectorCommand: Command = {
  name: 'projector',
  summary: 'fold every topic into the Redis read models and serve them as Prometheus metrics',
  usage: 'gpuflow projector [--prefix P] [--db N] [--metrics-port N] [--group G] [--topic-prefix T]',
  flags: {
    prefix: { type: 'string', description: 'Redis key prefix of the read models', default: 'gpuflow' },
    db: { type: 'number', description: 'Redis database index', default: 0, integer: true, min: 0 },
    'metrics-port': { type: 'number', description: 'port of /metrics (0: none; default GPUFLOW_METRICS_PORT)', integer: true, min: 0, max: 65535 },
    group: { type: 'string', description: 'consumer group', default: 'gpuflow-projector' },
    'topic-prefix': { type: 'string', description: 'prepended to every topic name (namespaced deployments)', default: '' },
    'session-timeout-ms': { type: 'number', description: 'how soon the group notices a projector that died', default: 10_000, integer: true, min: 1 },
  },
  async run({ flags }, { config, logger, print }) {
    const db = Number(flags.db);
    const port = flags['metrics-port'] === undefined ? config.metricsPort : Number(flags['metrics-port']);
    const redis = connectRedis(config.redisUrl, db);
    await redis.connect();
    try {
      const projector = await startProjector(createKafka(config, logger), createRegistryClient(config.schemaRegistryUrl), redis, logger, {
        groupId: String(flags.group), prefix: String(flags.prefix), topicPrefix: String(flags['topic-prefix']),
        metricsPort: port === 0 ? null : port, sessionTimeoutMs: Number(flags['session-timeout-ms']),
      });
      print(`projector running: read models under ${String(flags.prefix)}: in Redis db ${db}${projector.metrics ? `, /metrics on port ${projector.metrics.port}` : ''}; SIGTERM stops it`);
      const outcome = await Promise.race([untilSignal().then(() => 0), projector.failed]);
      await projector.stop();
      return outcome;
    } finally {
      redis.disconnect();
    }
  },
};
