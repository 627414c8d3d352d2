import { resolve } from 'node:path';
import { ConfigError } from './domain/errors.js';

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

export function loadConfig(env: Env = process.env): Config {
  const kafkaPort = int(env, 'GPUFLOW_KAFKA_PORT', 19092);
  const registryPort = int(env, 'GPUFLOW_REGISTRY_PORT', 18081);
  const redisPort = int(env, 'GPUFLOW_REDIS_PORT', 16379);
  return {
    kafkaBrokers: str(env, 'KAFKA_BROKERS', `127.0.0.1:${kafkaPort}`)
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
    schemaRegistryUrl: str(env, 'SCHEMA_REGISTRY_URL', `http://127.0.0.1:${registryPort}/apis/ccompat/v7`),
    redisUrl: str(env, 'REDIS_URL', `redis://127.0.0.1:${redisPort}`),
    home: resolve(str(env, 'GPUFLOW_HOME', '.gpuflow')),
    clientId: str(env, 'GPUFLOW_CLIENT_ID', 'gpuflow'),
    metricsPort: int(env, 'GPUFLOW_METRICS_PORT', 9464),
    modelStore: resolve(str(env, 'GPUFLOW_MODEL_STORE', 'models')),
    topicReplication: env.GPUFLOW_TOPIC_REPLICATION ? int(env, 'GPUFLOW_TOPIC_REPLICATION', 1) : null,
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
    },
  };
}
