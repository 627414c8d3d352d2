/** The one place a kafkajs client is created: brokers from config, logs through gpuflow's logger. */
import kafkajs, { type Kafka, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';

export type { Kafka } from 'kafkajs';

// kafkajs is CommonJS: its runtime values come through the default export under ESM.
const { Kafka: KafkaClient, logLevel } = kafkajs;

/** States kafkajs retries through by itself (a coordinator still loading after a start, a rebalance): not errors to a reader. */
const TRANSIENT = /coordinator is (loading|not available)|Restarting the consumer|group is rebalancing|not the correct coordinator/i;

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(config: Config, logger: Logger, overrides: Partial<KafkaConfig> = {}): Kafka {
  return new KafkaClient({
    clientId: config.clientId,
    brokers: config.kafkaBrokers,
    // kafkajs logs every reconnect at INFO; WARN keeps gpuflow's stderr readable.
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, timestamp: _ts, logger: _l, ...fields } = log;
        const text = `${String(message)} ${String(fields.error ?? '')}`;
        logger[TRANSIENT.test(text) ? 'debug' : (LEVELS[level] ?? 'info')](`kafka.${String(message)}`, fields);
      },
    retry: { initialRetryTime: 100, retries: 8 },
    ...overrides,
  });
}
