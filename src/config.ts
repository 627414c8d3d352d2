import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from './domain/errors.js';

/**
 * A secret read only when a client needs it (a password file may appear after the config is
 * loaded, when the stack first starts). It serialises and prints as '[redacted]', so a config or
 * an error that reaches a log line never carries it.
 */
export class Secret {
  readonly #read: () => string;
  /** Where it comes from (a variable name or a file), for error messages. */
  readonly source: string;
  constructor(read: () => string, source: string) {
    this.#read = read;
    this.source = source;
  }
  reveal(): string {
    return this.#read();
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${this.source})`;
  }
}

export const SASL_MECHANISMS = ['scram-sha-512', 'scram-sha-256', 'plain'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** How every Kafka client authenticates and encrypts (docs/security.md). */
export interface KafkaSecurity {
  /** KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE; null: no SASL. */
  sasl: { mechanism: SaslMechanism; username: string; password: Secret } | null;
  /** KAFKA_SSL=true, or any KAFKA_SSL_*_FILE: TLS to the brokers; null: plaintext. */
  ssl: {
    /** KAFKA_SSL_CA_FILE: PEM CA bundle to trust (default: the system's). */
    caFile: string | null;
    /** KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE: a client certificate (mutual TLS). */
    certFile: string | null;
    keyFile: string | null;
  } | null;
}

/** Listener security of the brokers `stack up` starts: GPUFLOW_KAFKA_SECURITY. */
export type StackKafkaSecurity = 'plaintext' | 'sasl_ssl';

/** The super user of a secured local stack, and where its generated password and CA live. */
export const STACK_KAFKA_ADMIN = 'gpuflow-admin';
export const stackKafkaSecretsDir = (home: string): string => join(home, 'kafka', 'secrets');
export const stackKafkaTlsDir = (home: string): string => join(home, 'kafka', 'tls');
/** Port distance between the nodes of a local cluster: node i listens on GPUFLOW_KAFKA_PORT + i * 100. */
export const KAFKA_NODE_PORT_STEP = 100;
/**
 * A tenant that has its own Kafka principal and results topic: lower-case letters, digits, '_' and
 * '-', no '.', so one tenant's topic or group prefix never covers another's.
 */
export const TENANT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * All configuration in one typed place. Defaults run everything on one machine;
 * each field can be overridden by the environment variable named beside it.
 */
export interface Config {
  /** Comma-separated brokers. Set KAFKA_BROKERS to use an existing cluster (nothing local starts). */
  kafkaBrokers: string[];
  /** SCHEMA_REGISTRY_URL: a Confluent-compatible registry API root. */
  schemaRegistryUrl: string;
  /** REDIS_URL */
  redisUrl: string;
  /** GPUFLOW_HOME: where the local stack keeps downloads, data and logs. */
  home: string;
  /** GPUFLOW_CLIENT_ID */
  clientId: string;
  /** GPUFLOW_MODEL_STORE: the only folder workers read weights from. */
  modelStore: string;
  /** GPUFLOW_METRICS_PORT: port of the /metrics endpoint Prometheus scrapes. */
  metricsPort: number;
  /** GPUFLOW_TOPIC_REPLICATION: overrides every topic's declared replication factor (multi-broker clusters). */
  topicReplication: number | null;
  /** SASL and TLS settings applied to every Kafka client (src/kafka/client.ts). */
  kafkaSecurity: KafkaSecurity;
  /**
   * GPUFLOW_TENANT_RESULT_TOPICS=true: workers publish each result to its tenant's topic
   * `inference.results.TENANT` as well as to the shared `inference.results` (docs/security.md).
   */
  tenantResultTopics: boolean;
  /** GPUFLOW_SIMULATED_SLOWDOWN, 'model@version=factor,…': slows those versions on simulated devices only (tests of canary rollback). */
  simulatedSlowdown: string;
  /** GPUFLOW_TENANT: the tenant a client acts as; it then reads `inference.results.TENANT`. */
  tenant: string | null;
  /**
   * GPUFLOW_TENANT_KEYS_DIR: the dispatcher admits only requests signed with their tenant's key,
   * `DIR/TENANT.key`; the rest go to the dead-letter topic with the reason (docs/security.md).
   */
  tenantKeysDir: string | null;
  /** GPUFLOW_TENANT_KEY_FILE: a client signs its requests with this tenant key. */
  tenantKeyFile: string | null;
  /**
   * Dispatcher instances sharing the work by partition (docs/scheduling.md, "Scale-out"); null: one
   * instance serves at a time. Set by GPUFLOW_DISPATCHER_SHARE_GROUPS (share groups, 1 to the
   * partitions of inference.requests), with GPUFLOW_DISPATCHER_SNAPSHOT_MS (default 10000) and
   * GPUFLOW_DISPATCHER_FINISHED_RETENTION_MS (default 120000).
   */
  dispatcherScaleOut: { shareGroups: number; snapshotIntervalMs: number; finishedRetentionMs: number } | null;
  /** Which of the three services were given from outside (not started by `stack up`). */
  external: { kafka: boolean; registry: boolean; redis: boolean };
  stack: {
    kafkaPort: number; // GPUFLOW_KAFKA_PORT
    kafkaControllerPort: number; // GPUFLOW_KAFKA_CONTROLLER_PORT
    registryPort: number; // GPUFLOW_REGISTRY_PORT
    redisPort: number; // GPUFLOW_REDIS_PORT
    prometheusPort: number; // GPUFLOW_PROMETHEUS_PORT
    kafkaVersion: string; // GPUFLOW_KAFKA_VERSION
    apicurioVersion: string; // GPUFLOW_APICURIO_VERSION
    kafkaHeap: string; // GPUFLOW_KAFKA_HEAP
    registryHeap: string; // GPUFLOW_REGISTRY_HEAP
    kafkaBrokerCount: number; // GPUFLOW_KAFKA_BROKERS_COUNT: 1, or a local cluster of combined broker+controller nodes
    kafkaSecurity: StackKafkaSecurity; // GPUFLOW_KAFKA_SECURITY
  };
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(`${name} must be a positive integer, got '${raw}'`);
  return value;
}

function str(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  return raw === undefined || raw === '' ? fallback : raw;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be 'true' or 'false', got '${env[name]}'`);
  return raw === 'true';
}

function tenantOrNull(env: Env): string | null {
  const raw = env.GPUFLOW_TENANT;
  if (raw === undefined || raw === '') return null;
  if (!TENANT_NAME.test(raw)) throw new ConfigError(`GPUFLOW_TENANT must match ${TENANT_NAME} (lower-case letters, digits, '_' and '-'), got '${raw}'`);
  return raw;
}

function fileOrNull(env: Env, name: string): string | null {
  const raw = env[name];
  return raw === undefined || raw === '' ? null : resolve(raw);
}

function stackSecurity(env: Env): StackKafkaSecurity {
  const raw = str(env, 'GPUFLOW_KAFKA_SECURITY', 'plaintext').toLowerCase();
  if (raw !== 'plaintext' && raw !== 'sasl_ssl') throw new ConfigError(`GPUFLOW_KAFKA_SECURITY must be 'plaintext' or 'sasl_ssl', got '${raw}'`);
  return raw;
}

/**
 * Client security from KAFKA_SASL_* and KAFKA_SSL_*. Against a secured local stack (GPUFLOW_KAFKA_SECURITY=
 * sasl_ssl, no KAFKA_BROKERS) the defaults are the stack's super user, its generated password file and its CA.
 */
function kafkaSecurity(env: Env, home: string, localSecured: boolean): KafkaSecurity {
  const rawMechanism = env.KAFKA_SASL_MECHANISM?.toLowerCase() || (localSecured ? 'scram-sha-512' : '');
  let sasl: KafkaSecurity['sasl'] = null;
  if (rawMechanism) {
    if (!(SASL_MECHANISMS as readonly string[]).includes(rawMechanism)) {
      throw new ConfigError(`KAFKA_SASL_MECHANISM must be one of ${SASL_MECHANISMS.join(', ')}, got '${rawMechanism}'`);
    }
    const username = env.KAFKA_SASL_USERNAME || (localSecured ? STACK_KAFKA_ADMIN : '');
    if (!username) throw new ConfigError('KAFKA_SASL_USERNAME is required when KAFKA_SASL_MECHANISM is set');
    const literal = env.KAFKA_SASL_PASSWORD;
    const file = fileOrNull(env, 'KAFKA_SASL_PASSWORD_FILE') ?? (localSecured && !literal ? join(stackKafkaSecretsDir(home), `${STACK_KAFKA_ADMIN}.password`) : null);
    let password: Secret;
    if (literal) password = new Secret(() => literal, 'KAFKA_SASL_PASSWORD');
    else if (file) {
      password = new Secret(() => {
        try {
          return readFileSync(file, 'utf8').trim();
        } catch (cause) {
          throw new ConfigError(`cannot read the Kafka SASL password from ${file} (KAFKA_SASL_PASSWORD_FILE)`, { cause });
        }
      }, file);
    } else throw new ConfigError('KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE is required when KAFKA_SASL_MECHANISM is set');
    sasl = { mechanism: rawMechanism as SaslMechanism, username, password };
  }
  const caFile = fileOrNull(env, 'KAFKA_SSL_CA_FILE') ?? (localSecured ? join(stackKafkaTlsDir(home), 'ca.pem') : null);
  const certFile = fileOrNull(env, 'KAFKA_SSL_CERT_FILE');
  const keyFile = fileOrNull(env, 'KAFKA_SSL_KEY_FILE');
  if ((certFile === null) !== (keyFile === null)) throw new ConfigError('KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together');
  const sslFlag = env.KAFKA_SSL?.toLowerCase();
  if (sslFlag !== undefined && sslFlag !== '' && sslFlag !== 'true' && sslFlag !== 'false') throw new ConfigError(`KAFKA_SSL must be 'true' or 'false', got '${env.KAFKA_SSL}'`);
  const ssl = sslFlag === 'true' || caFile !== null || certFile !== null ? { caFile, certFile, keyFile } : null;
  return { sasl, ssl };
}

export function loadConfig(env: Env = process.env): Config {
  const kafkaPort = int(env, 'GPUFLOW_KAFKA_PORT', 19092);
  const registryPort = int(env, 'GPUFLOW_REGISTRY_PORT', 18081);
  const redisPort = int(env, 'GPUFLOW_REDIS_PORT', 16379);
  const kafkaBrokerCount = int(env, 'GPUFLOW_KAFKA_BROKERS_COUNT', 1);
  const stackKafkaSecurity = stackSecurity(env);
  const home = resolve(str(env, 'GPUFLOW_HOME', '.gpuflow'));
  const localBrokers = Array.from({ length: kafkaBrokerCount }, (_, i) => `127.0.0.1:${kafkaPort + i * KAFKA_NODE_PORT_STEP}`).join(',');
  return {
    kafkaBrokers: str(env, 'KAFKA_BROKERS', localBrokers)
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    schemaRegistryUrl: str(env, 'SCHEMA_REGISTRY_URL', `http://127.0.0.1:${registryPort}/apis/ccompat/v7`),
    redisUrl: str(env, 'REDIS_URL', `redis://127.0.0.1:${redisPort}`),
    home,
    clientId: str(env, 'GPUFLOW_CLIENT_ID', 'gpuflow'),
    metricsPort: int(env, 'GPUFLOW_METRICS_PORT', 9464),
    modelStore: resolve(str(env, 'GPUFLOW_MODEL_STORE', 'models')),
    // A local cluster replicates every topic three ways (or on every node when fewer) unless told otherwise.
    topicReplication: env.GPUFLOW_TOPIC_REPLICATION
      ? int(env, 'GPUFLOW_TOPIC_REPLICATION', 1)
      : kafkaBrokerCount > 1 && !env.KAFKA_BROKERS
        ? Math.min(3, kafkaBrokerCount)
        : null,
    kafkaSecurity: kafkaSecurity(env, home, stackKafkaSecurity === 'sasl_ssl' && !env.KAFKA_BROKERS),
    tenantResultTopics: bool(env, 'GPUFLOW_TENANT_RESULT_TOPICS', false),
    simulatedSlowdown: str(env, 'GPUFLOW_SIMULATED_SLOWDOWN', ''),
    tenant: tenantOrNull(env),
    tenantKeysDir: fileOrNull(env, 'GPUFLOW_TENANT_KEYS_DIR'),
    tenantKeyFile: fileOrNull(env, 'GPUFLOW_TENANT_KEY_FILE'),
    dispatcherScaleOut: env.GPUFLOW_DISPATCHER_SHARE_GROUPS
      ? {
          shareGroups: int(env, 'GPUFLOW_DISPATCHER_SHARE_GROUPS', 1),
          snapshotIntervalMs: int(env, 'GPUFLOW_DISPATCHER_SNAPSHOT_MS', 10_000),
          finishedRetentionMs: int(env, 'GPUFLOW_DISPATCHER_FINISHED_RETENTION_MS', 120_000),
        }
      : null,
    external: {
      kafka: Boolean(env.KAFKA_BROKERS),
      registry: Boolean(env.SCHEMA_REGISTRY_URL),
      redis: Boolean(env.REDIS_URL),
    },
    stack: {
      kafkaPort,
      kafkaControllerPort: int(env, 'GPUFLOW_KAFKA_CONTROLLER_PORT', 19093),
      registryPort,
      redisPort,
      prometheusPort: int(env, 'GPUFLOW_PROMETHEUS_PORT', 19090),
      kafkaVersion: str(env, 'GPUFLOW_KAFKA_VERSION', '4.1.1'),
      apicurioVersion: str(env, 'GPUFLOW_APICURIO_VERSION', '3.3.3'),
      kafkaHeap: str(env, 'GPUFLOW_KAFKA_HEAP', '1g'),
      registryHeap: str(env, 'GPUFLOW_REGISTRY_HEAP', '512m'),
      kafkaBrokerCount,
      kafkaSecurity: stackKafkaSecurity,
    },
  };
}
