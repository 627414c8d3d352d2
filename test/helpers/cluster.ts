/**
 * A Kafka of its own for one test file, started with the stack's own code (`stackUp` with only
 * Kafka) beside the shared stack: its home is GPUFLOW_HOME/test-clusters/NAME and its ports are the
 * shared stack's Kafka ports plus `portOffset` (node i adds i * 100 more). It is wiped at start so
 * every run formats fresh storage, and `stop` leaves nothing running.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig, type Config, type StackKafkaSecurity } from '../../src/config.js';
import { createKafka, type Kafka } from '../../src/kafka/client.js';
import { createLogger, type Logger } from '../../src/log.js';
import { stackDown, stackUp } from '../../src/stack/index.js';
import { kafkaNodes, type KafkaNode } from '../../src/stack/kafka.js';
import { isAlive, pidFile } from '../../src/stack/process.js';

export interface ClusterOptions {
  name: string;
  brokers: number;
  portOffset: number;
  security?: StackKafkaSecurity;
  heap?: string;
}

export interface LocalCluster {
  config: Config;
  logger: Logger;
  nodes: KafkaNode[];
  /** A client with the config's security (for a secured cluster: the stack's super user). */
  kafka: Kafka;
  /** The live pid of a node, from its pid file. */
  pidOf(nodeId: number): number;
  /** Starts whatever node is not running (after a kill), as `stack up` would; resolves when all answer. */
  up(): Promise<void>;
  stop(): Promise<void>;
}

/** The config of a cluster: the caller's environment minus the shared stack's addresses, plus its own home and ports. */
export function clusterConfig(options: ClusterOptions): Config {
  const baseHome = resolve(process.env.GPUFLOW_HOME ?? '.gpuflow');
  const kafkaPort = Number(process.env.GPUFLOW_KAFKA_PORT ?? 19092) + options.portOffset;
  const controllerPort = Number(process.env.GPUFLOW_KAFKA_CONTROLLER_PORT ?? 19093) + options.portOffset;
  return loadConfig({
    GPUFLOW_HOME: join(baseHome, 'test-clusters', options.name),
    GPUFLOW_KAFKA_PORT: String(kafkaPort),
    GPUFLOW_KAFKA_CONTROLLER_PORT: String(controllerPort),
    GPUFLOW_KAFKA_BROKERS_COUNT: String(options.brokers),
    GPUFLOW_KAFKA_SECURITY: options.security ?? 'plaintext',
    GPUFLOW_KAFKA_HEAP: options.heap ?? process.env.GPUFLOW_TEST_CLUSTER_HEAP ?? '384m',
    GPUFLOW_KAFKA_VERSION: process.env.GPUFLOW_KAFKA_VERSION,
    GPUFLOW_CLIENT_ID: `gpuflow-${options.name}`,
  });
}

/** Reuses the shared home's resolved classpath so a fresh cluster home needs no Maven run. */
function seedClasspath(config: Config): void {
  const baseKafka = join(resolve(config.home, '..', '..'), 'kafka');
  const target = join(config.home, 'kafka');
  mkdirSync(target, { recursive: true });
  if (!existsSync(baseKafka)) return;
  for (const file of readdirSync(baseKafka).filter((f) => f.startsWith('classpath-'))) copyFileSync(join(baseKafka, file), join(target, file));
}

export async function startLocalCluster(options: ClusterOptions): Promise<LocalCluster> {
  const config = clusterConfig(options);
  const logger = createLogger({ scope: `test.${options.name}` }, (process.env.GPUFLOW_TEST_LOG as 'debug' | undefined) ?? 'silent');
  // Whatever an interrupted earlier run left: stopped, then wiped.
  await stackDown(config, logger, { only: ['kafka'] });
  rmSync(config.home, { recursive: true, force: true });
  seedClasspath(config);
  await stackUp(config, logger, { only: ['kafka'] });
  const nodes = kafkaNodes(config);
  return {
    config,
    logger,
    nodes,
    kafka: createKafka(config, logger),
    pidOf(nodeId) {
      const node = nodes.find((n) => n.id === nodeId);
      if (!node) throw new Error(`no node ${nodeId}`);
      const pid = Number(readFileSync(pidFile(config.home, node.processName), 'utf8').trim());
      if (!isAlive(pid)) throw new Error(`node ${nodeId} (pid ${pid}) is not running`);
      return pid;
    },
    up: async () => void (await stackUp(config, logger, { only: ['kafka'] })),
    stop: () => stackDown(config, logger, { only: ['kafka'] }),
  };
}
