/** The one place a kafkajs client is created: brokers and security from config, logs through gpuflow's logger. */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import kafkajs, { type Kafka, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Config, KafkaSecurity } from '../config.js';
import { ConfigError } from '../domain/errors.js';
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

function readPem(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause) {
    throw new ConfigError(`cannot read ${file} (${variable})`, { cause });
  }
}

/** kafkajs's `ssl` and `sasl` options from the typed settings; files and the password are read now, at client creation. */
export function kafkaSecurityOptions(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const options: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security.ssl) {
    const { caFile, certFile, keyFile } = security.ssl;
    const tls: ConnectionOptions = { rejectUnauthorized: true };
    if (caFile) tls.ca = [readPem(caFile, 'KAFKA_SSL_CA_FILE')];
    if (certFile && keyFile) {
      tls.cert = readPem(certFile, 'KAFKA_SSL_CERT_FILE');
      tls.key = readPem(keyFile, 'KAFKA_SSL_KEY_FILE');
    }
    options.ssl = tls;
  }
  if (security.sasl) {
    const { mechanism, username, password } = security.sasl;
    options.sasl = { mechanism, username, password: password.reveal() } as SASLOptions;
  }
  return options;
}

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
    ...kafkaSecurityOptions(config.kafkaSecurity),
    ...overrides,
  });
}
