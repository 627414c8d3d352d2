/**
 * The projector process: reads every topic the read models follow, folds each small batch of
 * events into the projections and stores the changed documents with the offsets they reach in
 * one Redis transaction, then acks. On start it loads the stored state and resumes each
 * partition at its stored offset (Redis, not the consumer group, is the authority on position),
 * so a projector killed at any point continues without losing or re-counting an event.
 * It also serves the read models as Prometheus metrics on /metrics.
 *
 * `replayProjections` runs the same fold from the start of the log into an empty prefix or
 * database, up to the end offsets the log had when it began.
 */
import { randomUUID } from 'node:crypto';
import { bufferTime, concatMap, filter, from, map, Subscription } from 'rxjs';
import type { Redis } from 'ioredis';
import { ConfigError, DecodeError, describeError } from '../domain/errors.js';
import type { Kafka } from '../kafka/client.js';
import { avroCodec, codecsByTopic, type TopicCodec } from '../kafka/codecs/topic-codec.js';
import { consume, type Delivery } from '../kafka/consumer-source.js';
import { createDeadLetterSink, type DeadLetterSink } from '../kafka/dead-letters.js';
import { createProducer } from '../kafka/producer.js';
import type { RegistryClient } from '../kafka/registry.js';
import { retirementOf } from '../kafka/manifest-tombstone.js';
import type { Logger } from '../log.js';
import { PROJECTED_KINDS, PROJECTED_SOURCES, type ProjectedEvent, type ProjectedKind } from '../projections/events.js';
import { PROJECTIONS } from '../projections/index.js';
import { startMetricsExporter, type MetricsExporter } from '../projections/prometheus-exporter.js';
import { dumpProjections, openProjectionStore, positionOf, type ProjectionStore } from '../projections/redis-sink.js';

export interface ProjectorOptions {
  groupId: string;
  /** Redis key prefix of the read models. */
  prefix: string;
  /** Prepended to every topic name (a namespaced deployment); '' for the declared names. */
  topicPrefix?: string;
  /** Port of /metrics; null serves none. */
  metricsPort: number | null;
  /** Events applied per Redis transaction at most, and how long a batch waits to fill. */
  maxBatch?: number;
  maxBatchDelayMs?: number;
  sessionTimeoutMs?: number;
  /** Called after each stored batch with how many events it applied. */
  onApplied?: (applied: number, store: ProjectionStore) => void;
  /** False for a rebuild: the live projector has already dead-lettered what cannot be read. Default true. */
  writeDeadLetters?: boolean;
}

export interface ProjectorHandle {
  readonly store: ProjectionStore;
  readonly metrics: MetricsExporter | null;
  /** Rejects when the projector fails (a write to Redis, the consumer); it stops itself then. */
  readonly failed: Promise<never>;
  stop(): Promise<void>;
}

type Codecs = Map<string, { kind: ProjectedKind; codec: TopicCodec<unknown> }>;

async function codecsFor(registry: RegistryClient, topicPrefix: string): Promise<Codecs> {
  const codecs: Codecs = new Map();
  for (const kind of PROJECTED_KINDS) {
    const { topic, schema } = PROJECTED_SOURCES[kind];
    const name = topicPrefix + topic;
    codecs.set(name, { kind, codec: (await avroCodec(registry, name, schema)) as TopicCodec<unknown> });
  }
  return codecs;
}

/** Decodes to the projected form: tensors are dropped at once, no read model keeps them; a manifest keeps its offset. */
async function decodeEvent(codecs: Codecs, bytes: Buffer, topic: string, offset: string): Promise<ProjectedEvent> {
  const entry = codecs.get(topic);
  if (!entry) throw new ConfigError(`the projector does not read ${topic}`);
  const value = (await entry.codec.decode(bytes)) as Record<string, unknown>;
  if (entry.kind === 'request') delete value.tensor;
  if (entry.kind === 'result') delete value.output;
  return (entry.kind === 'manifest' ? { kind: entry.kind, value, offset } : { kind: entry.kind, value }) as ProjectedEvent;
}

export async function startProjector(kafka: Kafka, registry: RegistryClient, redis: Redis, logger: Logger, options: ProjectorOptions): Promise<ProjectorHandle> {
  const log = logger.child({ service: 'projector', prefix: options.prefix });
  const topicPrefix = options.topicPrefix ?? '';
  const codecs = await codecsFor(registry, topicPrefix);
  const store = await openProjectionStore(redis, options.prefix, PROJECTIONS);
  const producer = await createProducer(kafka);
  const topics = [...codecs.keys()];
  const source = consume<ProjectedEvent>(kafka, {
    groupId: options.groupId,
    topics,
    decode: (bytes, topic, { offset }) => decodeEvent(codecs, bytes, topic, offset),
    tombstone: (key, topic, { offset }) => {
      if (codecs.get(topic)?.kind !== 'manifest') throw new DecodeError(`a tombstone on ${topic}: only models.manifests takes them`);
      return { kind: 'manifest', value: retirementOf(key), offset };
    },
    deadLetters: options.writeDeadLetters === false
      ? { send: async (entry) => log.info('projector.skipped_unreadable', { topic: entry.sourceTopic, partition: entry.partition, offset: entry.offset, reason: entry.reason }) }
      : onlyUnjudged(createDeadLetterSink(producer, codecsByTopic(registry, 'dead-letter')), await judgedPositions(kafka, options.groupId, topics, log), log),
    logger: log,
    fromBeginning: true,
    sessionTimeoutMs: options.sessionTimeoutMs,
    // Redis holds the position that matches the stored state; a partition it has not seen starts at the beginning.
    startAt: (topic, partition) => store.offsets.get(positionOf(topic, partition)) ?? '0',
  });
  const metrics = options.metricsPort === null ? null : await startMetricsExporter({ port: options.metricsPort, states: () => store.states, processMetrics: true });

  let fail!: (error: unknown) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  let writing: Promise<unknown> = Promise.resolve();
  const subscription = new Subscription();
  subscription.add(
    source.deliveries$
      .pipe(
        bufferTime(options.maxBatchDelayMs ?? 20, null, options.maxBatch ?? 500),
        filter((batch) => batch.length > 0),
        concatMap((batch: Delivery<ProjectedEvent>[]) => {
          const write = store.apply(batch.map((d) => ({ topic: d.topic, partition: d.partition, offset: d.offset, event: d.value })));
          writing = write.catch(() => undefined);
          return from(write).pipe(map((applied) => ({ batch, applied })));
        }),
      )
      .subscribe({
        next: ({ batch, applied }) => {
          for (const d of batch) d.ack();
          options.onApplied?.(applied, store);
        },
        error: (error: unknown) => {
          // The working copy may now be ahead of Redis: stop, a restart reloads what was stored.
          log.error('projector.failed', { error: describeError(error) });
          fail(error);
        },
      }),
  );
  log.info('projector.started', { groupId: options.groupId, metricsPort: metrics?.port ?? null, resumedPartitions: store.offsets.size });

  let stopping: Promise<void> | null = null;
  return {
    store,
    metrics,
    failed,
    stop: () =>
      (stopping ??= (async () => {
        await source.close();
        await writing;
        subscription.unsubscribe();
        await metrics?.close();
        await producer.disconnect();
      })()),
  };
}

/**
 * A dead-letter sink that passes on only messages past the group's commits at start. Below them,
 * every message was applied or dead-lettered already; Redis's position can lag the commits (a
 * dead letter stores no position), so a restart reads such messages again.
 */
function onlyUnjudged(sink: DeadLetterSink, judged: ReadonlyMap<string, bigint>, log: Logger): DeadLetterSink {
  return {
    async send(entry) {
      if (BigInt(entry.offset) < (judged.get(positionOf(entry.sourceTopic, entry.partition)) ?? 0n)) {
        log.info('projector.already_dead_lettered', { topic: entry.sourceTopic, partition: entry.partition, offset: entry.offset });
        return;
      }
      await sink.send(entry);
    },
  };
}

/** The group's commits, or none when they cannot be read (then a restart may dead-letter a message twice, as a log line says). */
async function judgedPositions(kafka: Kafka, groupId: string, topics: readonly string[], log: Logger): Promise<Map<string, bigint>> {
  try {
    return await committedPositions(kafka, groupId, topics);
  } catch (error) {
    log.warn('projector.commits_unread', { groupId, error: describeError(error) });
    return new Map();
  }
}

export interface ReplayOptions {
  prefix: string;
  topicPrefix?: string;
  /** Events read so far, of `total` (the log's size when the replay began). */
  onProgress?: (done: number, total: number) => void;
}

export interface ReplayResult {
  events: number;
  partitions: number;
  offsets: ReadonlyMap<string, string>;
}

/** Rebuilds every read model from the start of the log into `redis` under `prefix`, which must be empty. */
export async function replayProjections(kafka: Kafka, registry: RegistryClient, redis: Redis, logger: Logger, options: ReplayOptions): Promise<ReplayResult> {
  const existing = await dumpProjections(redis, options.prefix);
  if (existing.size > 0) {
    throw new ConfigError(`the target already holds ${existing.size} keys under '${options.prefix}:' (a replay rebuilds into an empty prefix or database; choose another, or delete them)`);
  }
  const topicPrefix = options.topicPrefix ?? '';
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<string, bigint>();
  let total = 0n;
  try {
    for (const kind of PROJECTED_KINDS) {
      const topic = topicPrefix + PROJECTED_SOURCES[kind].topic;
      for (const { partition, low, high } of await admin.fetchTopicOffsets(topic)) {
        if (BigInt(high) > BigInt(low)) {
          ends.set(positionOf(topic, partition), BigInt(high));
          total += BigInt(high) - BigInt(low);
        }
      }
    }
  } finally {
    await admin.disconnect();
  }
  const groupId = `gpuflow-replay-${randomUUID().slice(0, 8)}`;
  let events = 0;
  const reachedAll = (store: ProjectionStore): boolean => [...ends].every(([position, end]) => BigInt(store.offsets.get(position) ?? '0') >= end);
  let finished!: () => void;
  const caughtUp = new Promise<void>((resolve) => (finished = resolve));
  const projector = await startProjector(kafka, registry, redis, logger, {
    groupId,
    prefix: options.prefix,
    topicPrefix,
    metricsPort: null,
    maxBatch: 2000,
    writeDeadLetters: false,
    onApplied: (applied, store) => {
      events += applied;
      options.onProgress?.(events, Number(total));
      if (reachedAll(store)) finished();
    },
  });
  try {
    // A partition whose last messages were dead-lettered never shows its end in the store (nothing
    // was applied there); the group's commits, which count dead letters as handled, do.
    const committed = setInterval(() => void committedAll(kafka, groupId, ends).then((all) => all && finished(), () => undefined), 500);
    try {
      if (!reachedAll(projector.store)) await Promise.race([caughtUp, projector.failed]);
    } finally {
      clearInterval(committed);
    }
  } finally {
    await projector.stop();
    const cleanup = kafka.admin();
    await cleanup.connect();
    await cleanup.deleteGroups([groupId]).catch((error: unknown) => logger.warn('replay.group_not_deleted', { groupId, error: describeError(error) }));
    await cleanup.disconnect();
  }
  return { events, partitions: ends.size, offsets: projector.store.offsets };
}

/** Whether `groupId` has committed every position of `ends` ('topic:partition' → end offset). */
async function committedAll(kafka: Kafka, groupId: string, ends: ReadonlyMap<string, bigint>): Promise<boolean> {
  const topics = [...new Set([...ends.keys()].map((position) => position.slice(0, position.lastIndexOf(':'))))];
  const committed = await committedPositions(kafka, groupId, topics);
  return [...ends].every(([position, end]) => (committed.get(position) ?? -1n) >= end);
}

/** `groupId`'s committed offset of each partition of `topics`, by 'topic:partition' (-1 where none). */
async function committedPositions(kafka: Kafka, groupId: string, topics: readonly string[]): Promise<Map<string, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = new Map<string, bigint>();
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId, topics: [...topics] })) {
      for (const { partition, offset } of partitions) committed.set(positionOf(topic, partition), BigInt(offset));
    }
    return committed;
  } finally {
    await admin.disconnect();
  }
}
