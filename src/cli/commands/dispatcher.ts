/** `gpuflow dispatcher`: admission, batching and scheduling as its own process. */
import { randomUUID } from 'node:crypto';
import { createKafka } from '../../kafka/client.js';
import { createRegistryClient } from '../../kafka/registry.js';
import { startDispatcher } from '../../services/dispatcher.js';
import type { Command } from '../command.js';
import { untilSignal } from '../signals.js';

export const dispatcherCommand: Command = {
  name: 'dispatcher',
  summary: 'run admission, micro-batching and scheduling (one consumer group per deployment)',
  usage: 'gpuflow dispatcher [--group G] [--max-in-flight N]',
  flags: {
    group: { type: 'string', description: 'consumer group prefix shared by the dispatcher instances', default: 'gpuflow-dispatcher' },
    'max-in-flight': { type: 'number', description: 'unfinished requests held before consumption pauses', default: 50_000 },
    'start-at-end': { type: 'boolean', description: 'skip requests already in the topic when this group first gets a partition (a fresh deployment)' },
    'max-queue': { type: 'number', description: 'requests a model queue holds before it rejects newcomers', default: 10_000 },
    'stats-ms': { type: 'number', description: 'log a dispatcher.stats line this often (0: never)', default: 10_000 },
    'tick-ms': { type: 'number', description: 'liveness tick', default: 250 },
    'session-timeout-ms': { type: 'number', description: 'how soon a dead dispatcher\'s partitions move to another (Kafka minimum 6000)', default: 10_000 },
  },
  async run({ flags }, { config, logger, print }) {
    const handle = await startDispatcher(createKafka(config, logger), createRegistryClient(config.schemaRegistryUrl), logger, {
      groupId: String(flags.group), tickMs: Number(flags['tick-ms']), maxInFlightRequests: Number(flags['max-in-flight']),
      sessionTimeoutMs: Number(flags['session-timeout-ms']),
      startAtEnd: Boolean(flags['start-at-end']),
      tenantResultTopics: config.tenantResultTopics,
      queuePolicy: { maxQueueSize: Number(flags['max-queue']) },
    });
    const statsMs = Number(flags['stats-ms']);
    const timer =
      statsMs > 0
        ? setInterval(() => {
            const { admitted, rejected, unfinished, batchesFormed, batchesDone } = handle.stats;
            const { rss, heapUsed } = process.memoryUsage();
            logger.info('dispatcher.stats', { admitted, rejected, unfinished, batchesFormed, batchesDone, rssBytes: rss, heapUsedBytes: heapUsed });
          }, statsMs)
        : undefined;
    print(`dispatcher ${randomUUID().slice(0, 6)} running (group ${String(flags.group)}); SIGTERM stops it`);
    await untilSignal();
    clearInterval(timer);
    await handle.stop();
    return 0;
  },
};
