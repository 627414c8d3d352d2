/**
 * Apache Kafka in KRaft mode on loopback: one process that is both broker and controller, or
 * GPUFLOW_KAFKA_BROKERS_COUNT such processes forming one quorum, in plaintext or (GPUFLOW_KAFKA_SECURITY=
 * sasl_ssl) with SASL/SCRAM over TLS for clients, mutual TLS between controllers and ACLs enforced.
 * Its jars come from Maven Central through scripts/stack/kafka/pom.xml; the resolved classpath is
 * kept in $GPUFLOW_HOME/kafka so only the first start calls Maven. Storage is formatted once.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { KAFKA_NODE_PORT_STEP, STACK_KAFKA_ADMIN, stackKafkaTlsDir, type Config } from '../config.js';
import { StackError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import { projectPath } from '../paths.js';
import type { Component } from './component.js';
import { findJava } from './java.js';
import { buildClasspath } from './maven.js';
import { tcpExchange } from './probe.js';
import { ensureKafkaTls, NODE_PRINCIPAL, redact, stackAdminPassword, writePrivate, type KafkaTlsFiles } from './kafka-secrets.js';
import { logFile, ownedPid, readLogFrom, runTool, spawnDetached, waitReady } from './process.js';

const HOST = '127.0.0.1';
const JAVA_HINT = 'apt-get install openjdk-17-jre-headless maven';
/** Largest record batch the broker accepts: a 64 MiB tensor batch plus its envelope. */
export const KAFKA_MESSAGE_MAX_BYTES = 65 * 1024 * 1024;

/** One node of the local Kafka: a process that is broker and controller at once. */
export interface KafkaNode {
  id: number;
  port: number;
  controllerPort: number;
  dir: string;
  dataDir: string;
  propertiesFile: string;
  log4jFile: string;
  /** Its pid and log file name under $GPUFLOW_HOME: `kafka` for a single node, `kafka-ID` in a cluster. */
  processName: string;
}

/** Settings a secured node needs beyond the plaintext ones. */
export interface NodeSecurity {
  tls: KafkaTlsFiles;
  adminPassword: string;
}

/**
 * The nodes `stack up` runs: GPUFLOW_KAFKA_BROKERS_COUNT of them, node i (from 0) on the configured
 * ports plus i * 100. The single plaintext node keeps $GPUFLOW_HOME/kafka as its folder; any other
 * layout (a cluster, or security on) gets its own folder per node, so switching between them never
 * mixes storage formatted for another quorum or without the SCRAM users.
 */
export function kafkaNodes(config: Config): KafkaNode[] {
  const { kafkaPort, kafkaControllerPort, kafkaBrokerCount: count, kafkaSecurity } = config.stack;
  const layout = kafkaLayoutDir(config);
  return Array.from({ length: count }, (_, i): KafkaNode => {
    const id = i + 1;
    const dir = layout === join(config.home, 'kafka') ? layout : join(layout, `node-${id}`);
    return {
      id,
      port: kafkaPort + i * KAFKA_NODE_PORT_STEP,
      controllerPort: kafkaControllerPort + i * KAFKA_NODE_PORT_STEP,
      dir,
      dataDir: join(dir, 'data'),
      propertiesFile: join(dir, 'server.properties'),
      log4jFile: join(dir, 'log4j2.properties'),
      processName: count === 1 ? 'kafka' : `kafka-${id}`,
    };
  });
}

/** Where a layout keeps its nodes and cluster id. */
function kafkaLayoutDir(config: Config): string {
  const { kafkaBrokerCount: count, kafkaSecurity } = config.stack;
  const base = join(config.home, 'kafka');
  return count === 1 && kafkaSecurity === 'plaintext' ? base : join(base, `${kafkaSecurity}-${count}`);
}

/** server.properties for one node; `security` turns on SASL_SSL for clients and mutual TLS between controllers. */
export function kafkaServerProperties(config: Config, node: KafkaNode, nodes: readonly KafkaNode[], security?: NodeSecurity): string {
  // Internal topics replicate on up to three nodes and, with three or more, need two in sync for a write.
  const replication = Math.min(3, nodes.length);
  const minIsr = nodes.length >= 3 ? 2 : 1;
  const client = security ? 'SASL_SSL' : 'PLAINTEXT';
  const settings: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': node.id,
    'controller.quorum.voters': nodes.map((n) => `${n.id}@${HOST}:${n.controllerPort}`).join(','),
    listeners: `${client}://${HOST}:${node.port},CONTROLLER://${HOST}:${node.controllerPort}`,
    'advertised.listeners': `${client}://${HOST}:${node.port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': client,
    'listener.security.protocol.map': security ? 'SASL_SSL:SASL_SSL,CONTROLLER:SSL' : 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': node.dataDir,
    // Topics are created on purpose only, with the cluster's replication unless they say otherwise.
    'num.partitions': 1,
    'default.replication.factor': replication,
    'min.insync.replicas': minIsr,
    'offsets.topic.replication.factor': replication,
    'offsets.topic.num.partitions': 8,
    'transaction.state.log.replication.factor': replication,
    'transaction.state.log.min.isr': minIsr,
    'transaction.state.log.num.partitions': 8,
    'share.coordinator.state.topic.replication.factor': replication,
    'share.coordinator.state.topic.min.isr': minIsr,
    'auto.create.topics.enable': false,
    'group.initial.rebalance.delay.ms': 0,
    // Tensor batches travel as single records.
    'message.max.bytes': KAFKA_MESSAGE_MAX_BYTES,
    'replica.fetch.max.bytes': KAFKA_MESSAGE_MAX_BYTES,
    'socket.request.max.bytes': 128 * 1024 * 1024,
    // A two-core machine: fewer threads than the defaults for a server.
    'num.network.threads': 2,
    'num.io.threads': 4,
    'num.recovery.threads.per.data.dir': 1,
    'log.retention.hours': 168,
  };
  if (nodes.length > 1) {
    // A dead node is fenced (and its partitions led elsewhere) when its heartbeats stop for this long:
    // short enough for a quick failover, long enough that a node starved of CPU for a moment is not.
    settings['broker.heartbeat.interval.ms'] = 1000;
    settings['broker.session.timeout.ms'] = 6000;
  }
  if (security) {
    Object.assign(settings, {
      'sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'sasl.mechanism.inter.broker.protocol': 'SCRAM-SHA-512',
      // The nodes talk to each other as the stack's super user (a PASSWORD config: Kafka logs it as [hidden]).
      'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': `org.apache.kafka.common.security.scram.ScramLoginModule required username="${STACK_KAFKA_ADMIN}" password="${security.adminPassword}";`,
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': security.tls.nodeKeyStore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': security.tls.caFile,
      // SCRAM cannot authenticate controllers (its credentials live in the metadata they serve): they use certificates.
      'listener.name.controller.ssl.client.auth': 'required',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'allow.everyone.if.no.acl.found': false,
      'super.users': `User:${STACK_KAFKA_ADMIN};${NODE_PRINCIPAL}`,
    });
  }
  return `# Generated by gpuflow (src/stack/kafka.ts); rewritten on every start.\n${Object.entries(settings)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

/** Log4j 2 writes to stdout, which the stack appends to $GPUFLOW_HOME/logs/kafka.log. */
const LOG4J2 = `# Generated by gpuflow (src/stack/kafka.ts).
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
`;

/**
 * An ApiVersions v0 request: the one request every Kafka version answers, so a reply with
 * error code 0 means the broker is serving clients, not merely accepting connections.
 */
function apiVersionsRequest(correlationId: number): Buffer {
  const clientId = Buffer.from('gpuflow-stack');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(18, 0); // api key: ApiVersions
  body.writeInt16BE(0, 2); // api version
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

/** Whether the broker answers ApiVersions on host:port without error (over TLS when `tls` is given: Kafka answers it before SASL). */
export async function kafkaAnswers(host: string, port: number, timeoutMs = 2000, tls?: { ca: Buffer }): Promise<boolean> {
  const correlationId = 0x67f1;
  const complete = (reply: Buffer): boolean => reply.length >= 4 && reply.length >= 4 + reply.readInt32BE(0);
  const reply = await tcpExchange(host, port, apiVersionsRequest(correlationId), complete, timeoutMs, tls);
  return reply !== undefined && reply.length >= 10 && reply.readInt32BE(4) === correlationId && reply.readInt16BE(8) === 0;
}

/**
 * A KRaft cluster id: 16 random bytes, base64url without padding, as kafka-storage random-uuid makes;
 * like Kafka's own, never one that starts with '-' (the format tool would take it for an option).
 */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** Java and the resolved classpath of the configured Kafka version, for the broker and for Kafka's own tools. */
export async function kafkaRuntime(config: Config, logger: Logger): Promise<{ java: string; classpath: string }> {
  const { kafkaVersion } = config.stack;
  const java = await findJava(config.home, 17);
  if (!java) throw new StackError('kafka', `Kafka ${kafkaVersion} needs Java 17+ and none was found`, JAVA_HINT);
  const classpathFile = join(config.home, 'kafka', `classpath-${kafkaVersion}.txt`);
  mkdirSync(join(config.home, 'kafka'), { recursive: true });
  if (existsSync(classpathFile)) {
    const stored = readFileSync(classpathFile, 'utf8').trim();
    if (stored && stored.split(delimiter).every((jar) => existsSync(jar))) return { java, classpath: stored };
  }
  logger.info('stack.kafka.resolve', { version: kafkaVersion, pom: projectPath('scripts', 'stack', 'kafka', 'pom.xml') });
  await buildClasspath('kafka', projectPath('scripts', 'stack', 'kafka', 'pom.xml'), { 'kafka.version': kafkaVersion }, classpathFile);
  const resolved = readFileSync(classpathFile, 'utf8').trim();
  if (!resolved.includes(`kafka_2.13-${kafkaVersion}.jar`)) throw new StackError('kafka', `Maven resolved no kafka_2.13-${kafkaVersion}.jar`, JAVA_HINT);
  return { java, classpath: resolved };
}

/** Whether one node answers ApiVersions: over TLS (checked against the stack's CA) when the stack is secured. */
export async function kafkaNodeAnswers(config: Config, node: Pick<KafkaNode, 'port'>): Promise<boolean> {
  if (config.stack.kafkaSecurity === 'plaintext') return kafkaAnswers(HOST, node.port);
  const caFile = join(stackKafkaTlsDir(config.home), 'ca.pem');
  if (!existsSync(caFile)) return false;
  return kafkaAnswers(HOST, node.port, 2000, { ca: readFileSync(caFile) });
}

export function kafkaComponent(config: Config): Component {
  const { home } = config;
  const { kafkaPort, kafkaVersion, kafkaHeap } = config.stack;
  const secured = config.stack.kafkaSecurity === 'sasl_ssl';
  const nodes = kafkaNodes(config);
  const clusterIdFile = join(kafkaLayoutDir(config), 'cluster.id');
  const name = 'kafka' as const;
  const answering = (): Promise<boolean[]> => Promise.all(nodes.map((node) => kafkaNodeAnswers(config, node)));
  const owns = ({ cmdline }: { cmdline: string[] }): boolean => cmdline.includes('kafka.Kafka') && nodes.some((node) => cmdline.includes(node.propertiesFile));

  /** Formats a node's storage once; a secured one with the super user's SCRAM credential in its first metadata. */
  async function formatStorage(node: KafkaNode, java: string, cp: string, security: NodeSecurity | undefined, logger: Logger): Promise<void> {
    if (existsSync(join(node.dataDir, 'meta.properties'))) return;
    const clusterId = readFileSync(clusterIdFile, 'utf8').trim();
    logger.info('stack.kafka.format', { clusterId, dataDir: node.dataDir, node: node.id, scramUsers: security ? [STACK_KAFKA_ADMIN] : [] });
    const scram = security ? ['--add-scram', `SCRAM-SHA-512=[name=${STACK_KAFKA_ADMIN},password=${security.adminPassword}]`] : [];
    try {
      await runTool(java, ['-Xmx256m', '-cp', cp, `-Dlog4j2.configurationFile=${node.log4jFile}`, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', node.propertiesFile, '--ignore-formatted', ...scram], {
        timeoutMs: 120_000,
      });
    } catch (cause) {
      // The tool's own output follows the first ':\n' (before it: the command line, with the classpath and the password).
      const full = (cause as Error).message;
      const message = redact(full.slice(full.indexOf(':\n') + 2) || full, security ? [security.adminPassword] : []);
      throw new StackError(name, `formatting KRaft storage in ${node.dataDir} failed: ${message}`, JAVA_HINT);
    }
  }

  async function startNode(node: KafkaNode, java: string, cp: string, security: NodeSecurity | undefined, logger: Logger): Promise<void> {
    mkdirSync(node.dataDir, { recursive: true });
    // A secured node's properties hold the super user's password: readable by its owner only.
    writePrivate(node.propertiesFile, kafkaServerProperties(config, node, nodes, security));
    writeFileSync(node.log4jFile, LOG4J2);
    await formatStorage(node, java, cp, security, logger);
    const pending = ownedPid(home, node.processName, owns);
    const log = logFile(home, node.processName);
    const hint = `check that ports ${node.port} and ${node.controllerPort} are free; ${JAVA_HINT}`;
    if (pending !== undefined) {
      await waitReady(() => kafkaNodeAnswers(config, node), { name, pid: pending, log, logOffset: 0, timeoutMs: 180_000, hint });
      return;
    }
    const args = [
      `-Xmx${kafkaHeap}`,
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-XX:+ExitOnOutOfMemoryError',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${node.log4jFile}`,
      '-cp',
      cp,
      'kafka.Kafka',
      node.propertiesFile,
    ];
    const { pid, logOffset } = await spawnDetached(home, { name: node.processName, command: java, args, cwd: node.dir });
    await waitReady(async () => readLogFrom(log, logOffset).includes('Kafka Server started') && (await kafkaNodeAnswers(config, node)), {
      name,
      pid,
      log,
      logOffset,
      timeoutMs: 180_000,
      hint,
    });
  }

  return {
    name,
    address: config.kafkaBrokers.join(','),
    external: config.external.kafka,
    ports: nodes.flatMap((node) => [node.port, node.controllerPort]),
    processNames: nodes.map((node) => node.processName),
    stopGraceMs: 30_000,
    healthy: async () => (await answering()).every(Boolean),
    owns,
    async startState() {
      const answers = await answering();
      const down = nodes.filter((_, i) => !answers[i]);
      const pendingPids = down.map((node) => ownedPid(home, node.processName, owns));
      return {
        portsToFree: down.filter((_, i) => pendingPids[i] === undefined).flatMap((node) => [node.port, node.controllerPort]),
        // Only when every missing node is already starting is there nothing to spawn, just to wait.
        pendingPid: pendingPids.every((pid) => pid !== undefined) ? pendingPids[0] : undefined,
      };
    },
    async start(logger) {
      const { java, classpath: cp } = await kafkaRuntime(config, logger);
      mkdirSync(kafkaLayoutDir(config), { recursive: true });
      if (!existsSync(clusterIdFile)) writeFileSync(clusterIdFile, `${newClusterId()}\n`);
      const security = secured ? { tls: await ensureKafkaTls(home), adminPassword: stackAdminPassword(home) } : undefined;
      const answers = await answering();
      // All at once: a node of a quorum finishes starting only when a majority of the voters runs.
      await Promise.all(nodes.filter((_, i) => !answers[i]).map((node) => startNode(node, java, cp, security, logger)));
      logger.debug('stack.kafka.nodes', { version: kafkaVersion, port: kafkaPort, nodes: nodes.map((n) => n.id), secured });
    },
  };
}
