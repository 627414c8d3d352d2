/** `gpuflow replay --projections`: rebuilds every read model from the start of the log into an empty Redis prefix or database. */
import { ConfigError } from '../../domain/errors.js';
import { createKafka } from '../../kafka/client.js';
import { createRegistryClient } from '../../kafka/registry.js';
import { replayProjections } from '../../services/projector.js';
import type { Command } from '../command.js';
import { progressBar, type Progress } from '../progress.js';
import { connectRedis } from '../../projections/redis-connection.js';

export const replayCommand: Command = {
  name: 'replay',
  summary: 'rebuild the read models from the start of the log (--projections)',
  usage: 'gpuflow replay --projections [--prefix P] [--db N] [--topic-prefix T]',
  flags: {
    projections: { type: 'boolean', description: 'rebuild every read model into an empty prefix or database' },
    prefix: { type: 'string', description: 'Redis key prefix to rebuild under', default: 'gpuflow' },
    db: { type: 'number', description: 'Redis database index to rebuild into (the live models are in 0)', default: 1 },
    'topic-prefix': { type: 'string', description: 'prepended to every topic name (namespaced deployments)', default: '' },
  },
  async run({ flags }, { config, logger, print }) {
    if (!flags.projections) throw new ConfigError('say what to replay: --projections');
    const db = Number(flags.db);
    if (!Number.isInteger(db) || db < 0) throw new ConfigError('--db must be a database index (0, 1, ...)');
    const prefix = String(flags.prefix);
    const redis = connectRedis(config.redisUrl, db);
    await redis.connect();
    // The total is known once the replay has read the log's end offsets.
    const shown: { bar: Progress | null } = { bar: null };
    try {
      const started = Date.now();
      const result = await replayProjections(createKafka(config, logger), createRegistryClient(config.schemaRegistryUrl), redis, logger, {
        prefix, topicPrefix: String(flags['topic-prefix']),
        onProgress: (done, total) => (shown.bar ??= progressBar('replay', total)).update(done, 'events'),
      });
      shown.bar?.finish('events');
      const seconds = (Date.now() - started) / 1000;
      print(`rebuilt the read models under ${prefix}: in Redis db ${db} from ${result.events} events on ${result.partitions} partitions in ${seconds.toFixed(1)} s`);
      return 0;
    } finally {
      redis.disconnect();
    }
  },
};
