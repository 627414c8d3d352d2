/** `gpuflow dispatcher`: admission, batching and scheduling as its own process. */
import { randomUUID } from 'node:crypto';
import { createKafka } from '../../kafka/client.js';
import { createRegistryClient } from '../../kafka/registry.js';
import { DEFAULT_ROLLOUT_GUARD } from '../../processors/traffic/rollout-guard-config.js';
import { startDispatcher } from '../../services/dispatcher.js';
import type { Command } from '../command.js';
import { untilSignal } from '../signals.js';

export const dispatcherCommand: Command = {
  name: 'dispatcher',
  summary: 'run admission, micro-batching and scheduling (one consumer group per deployment)',
  usage: 'gpuflow dispatcher [--group G] [--max-in-flight N]',
  flags: {
    group: { type: 'string', description: 'consumer group prefix shared by the dispatcher instances', default: 'gpuflow-dispatcher' },
    'max-in-flight': { type: 'number', description: 'unfinished requests held before consumption pauses', default: 50_000, integer: true, min: 1 },
    'start-at-end': { type: 'boolean', description: 'skip requests already in the topic when this group first gets a partition (a fresh deployment)' },
    'max-queue': { type: 'number', description: 'requests a model queue holds before it rejects newcomers', default: 10_000, integer: true, min: 1 },
    'stats-ms': { type: 'number', description: 'log a dispatcher.stats line this often (0: never)', default: 10_000, min: 0 },
    'tick-ms': { type: 'number', description: 'liveness tick', default: 250, positive: true },
    'session-timeout-ms': { type: 'number', description: 'how soon a dead dispatcher\'s partitions move to another (Kafka minimum 6000)', default: 10_000, integer: true, min: 1 },
    'rollout-window-ms': { type: 'number', description: 'canary guard: outcomes older than this leave the comparison', default: DEFAULT_ROLLOUT_GUARD.windowMs, positive: true },
    'rollout-min-samples': { type: 'number', description: 'canary guard: outcomes stable and canary each need before they are compared', default: DEFAULT_ROLLOUT_GUARD.minSamples, integer: true, min: 1 },
    'rollout-max-error-increase': { type: 'number', description: 'canary guard: abort when canary error rate exceeds stable\'s by more (0 to 1)', default: DEFAULT_ROLLOUT_GUARD.maxErrorRateIncrease, min: 0, max: 1 },
    'rollout-max-attainment-drop': { type: 'number', description: 'canary guard: abort when canary SLO attainment trails stable\'s by more (0 to 1)', default: DEFAULT_ROLLOUT_GUARD.maxAttainmentDrop, min: 0, max: 1 },
  },
  async run({ flags }, { config, logger, print }) {
    const handle = await startDispatcher(createKafka(config, logger), createRegistryClient(config.schemaRegistryUrl), logger, {
      groupId: String(flags.group), tickMs: Number(flags['tick-ms']), maxInFlightRequests: Number(flags['max-in-flight']),
      sessionTimeoutMs: Number(flags['session-timeout-ms']),
      startAtEnd: Boolean(flags['start-at-end']),
      tenantResultTopics: config.tenantResultTopics,
      ...(config.tenantKeysDir ? { tenantKeysDir: config.tenantKeysDir } : {}),
      ...(config.dispatcherScaleOut ? { scaleOut: config.dispatcherScaleOut } : {}),
      rollout: {
        windowMs: Number(flags['rollout-window-ms']), minSamples: Number(flags['rollout-min-samples']),
        maxErrorRateIncrease: Number(flags['rollout-max-error-increase']), maxAttainmentDrop: Number(flags['rollout-max-attainment-drop']),
      },
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
