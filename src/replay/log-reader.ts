/**
 * Reads what replay and what-if need from Kafka: the journal, the messages its turns name, and
 * the recorded decisions and worker reports of a window. Each read takes the topic's end offsets
 * when it begins and stops there, with a throwaway consumer group that commits nothing.
 */
import { ValidationError } from '../domain/errors.js';
import type { SchedulerEvent, WorkerReport } from '../domain/events/index.js';
import type { Kafka } from '../kafka/client.js';
import { retirementOf } from '../kafka/manifest-tombstone.js';
import { readRanges, type PartitionRange } from '../kafka/partition-ranges.js';
import { TOPICS } from '../kafka/topic-names.js';
import { avroCodec, type TopicCodec } from '../kafka/codecs/topic-codec.js';
import type { RegistryClient } from '../kafka/registry.js';
import type { Logger } from '../log.js';
import type { RecordedDecision } from './compare.js';
import type { CoreInput } from './dispatch-core.js';
import { decodeJournalRecords, JOURNAL_TOPIC } from './journal.js';
import type { JournalEntry } from './plan.js';

/** How far before a window the time index is asked to start: message timestamps are the producer's, a little after the decision. */
const TIMESTAMP_SLACK_MS = 60_000;

interface RawMessage {
  partition: number;
  offset: string;
  value: Buffer;
}

export interface ReadOptions {
  /** Where each partition's read starts (default: its beginning). */
  start?: (partition: number) => bigint | undefined;
  /** Called for a tombstone (a key with a null value); without it tombstones are skipped. */
  onTombstone?: (m: { partition: number; offset: string; key: Buffer | null }) => Promise<void> | void;
}

/**
 * Reads `topic` to the end it had when the read began, calling `onMessage` in offset order per
 * partition.
 */
export async function readTopic(kafka: Kafka, logger: Logger, topic: string, onMessage: (m: RawMessage) => Promise<void> | void, options: ReadOptions = {}): Promise<void> {
  const { start, onTombstone } = options;
  const admin = kafka.admin();
  await admin.connect();
  const ranges: PartitionRange[] = [];
  try {
    for (const { partition, low, high } of await admin.fetchTopicOffsets(topic)) {
      const from = [BigInt(low), start?.(partition) ?? 0n].reduce((a, b) => (a > b ? a : b));
      ranges.push({ topic, partition, from, to: BigInt(high) });
    }
  } finally {
    await admin.disconnect();
  }
  await readRanges(kafka, logger, ranges, (m) => (m.value === null ? onTombstone?.(m) : onMessage({ partition: m.partition, offset: m.offset, value: m.value })));
}

/** The whole journal, in offset order. */
export async function readJournal(kafka: Kafka, logger: Logger): Promise<JournalEntry[]> {
  const entries: JournalEntry[] = [];
  await readTopic(kafka, logger, JOURNAL_TOPIC, (m) => {
    for (const record of decodeJournalRecords(m.value)) entries.push({ offset: m.offset, record });
  });
  return entries;
}

/** Offsets per partition of the first message at or after `ms`, less the slack. */
async function offsetsAt(kafka: Kafka, topic: string, ms: number): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const found = await admin.fetchTopicOffsetsByTimestamp(topic, ms - TIMESTAMP_SLACK_MS);
    return new Map(found.map((o) => [o.partition, BigInt(o.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** Recorded decisions whose logical time lies within [fromMs, toMs]. */
export async function readDecisions(kafka: Kafka, registry: RegistryClient, logger: Logger, window: { fromMs: number; toMs: number }): Promise<RecordedDecision[]> {
  const codec = await avroCodec(registry, TOPICS.decisions, 'scheduler-event');
  const starts = await offsetsAt(kafka, TOPICS.decisions, window.fromMs);
  const byPartition = new Map<number, RecordedDecision[]>();
  await readTopic(kafka, logger, TOPICS.decisions, async (m) => {
    const event: SchedulerEvent = await codec.decode(m.value);
    if (event.atMs < window.fromMs || event.atMs > window.toMs) return;
    let list = byPartition.get(m.partition);
    if (!list) byPartition.set(m.partition, (list = []));
    list.push({ position: `${TOPICS.decisions}:${m.partition}:${m.offset}`, event });
  }, { start: (p) => starts.get(p) });
  return [...byPartition.keys()].sort((a, b) => a - b).flatMap((p) => byPartition.get(p)!);
}

/** Worker reports written within [fromMs, toMs] (by the report's own timestamp). */
export async function readReports(kafka: Kafka, registry: RegistryClient, logger: Logger, window: { fromMs: number; toMs: number }): Promise<WorkerReport[]> {
  const codec = await avroCodec(registry, TOPICS.reports, 'worker-report');
  const starts = await offsetsAt(kafka, TOPICS.reports, window.fromMs);
  const reports: WorkerReport[] = [];
  await readTopic(kafka, logger, TOPICS.reports, async (m) => {
    const report = await codec.decode(m.value);
    if (report.timestampMs >= window.fromMs && report.timestampMs <= window.toMs) reports.push(report);
  }, { start: (p) => starts.get(p) });
  return reports;
}

// A retirement is a tombstone, read apart from the messages a schema decodes.
type InputKind = Exclude<CoreInput['kind'], 'tick' | 'retired'>;

/** The topics the dispatcher consumes, what each message is to it, and its schema. */
const SOURCES: Readonly<Record<string, { kind: InputKind; schema: 'inference-request' | 'model-manifest' | 'heartbeat' | 'gpu-sample' | 'anomaly-alert' | 'worker-report' }>> = {
  [TOPICS.requests]: { kind: 'request', schema: 'inference-request' },
  [TOPICS.manifests]: { kind: 'manifest', schema: 'model-manifest' },
  [TOPICS.heartbeats]: { kind: 'heartbeat', schema: 'heartbeat' },
  [TOPICS.telemetry]: { kind: 'telemetry', schema: 'gpu-sample' },
  [TOPICS.anomalies]: { kind: 'anomaly', schema: 'anomaly-alert' },
  [TOPICS.reports]: { kind: 'report', schema: 'worker-report' },
};

const EMPTY = new Uint8Array(0);

/** Reads every message the refs name ('topic:partition:offset'), decoded as the dispatcher's input. */
export async function readInputs(kafka: Kafka, registry: RegistryClient, logger: Logger, refs: Iterable<string>): Promise<Map<string, CoreInput>> {
  const wanted = new Map<string, Map<number, Set<bigint>>>();
  for (const ref of refs) {
    const [topic, partition, offset] = ref.split(':');
    if (topic === undefined || partition === undefined || offset === undefined || !(topic in SOURCES)) throw new ValidationError(`journal names an input the dispatcher does not read: ${ref}`);
    let partitions = wanted.get(topic);
    if (!partitions) wanted.set(topic, (partitions = new Map()));
    let offsets = partitions.get(Number(partition));
    if (!offsets) partitions.set(Number(partition), (offsets = new Set()));
    offsets.add(BigInt(offset));
  }
  const inputs = new Map<string, CoreInput>();
  for (const [topic, partitions] of wanted) {
    const source = SOURCES[topic]!;
    const codec = (await avroCodec(registry, topic, source.schema)) as TopicCodec<unknown>;
    const lowest = new Map([...partitions].map(([p, offsets]) => [p, [...offsets].reduce((a, b) => (a < b ? a : b))]));
    const wantedRef = (m: { partition: number; offset: string }): string | undefined => (partitions.get(m.partition)?.has(BigInt(m.offset)) ? `${topic}:${m.partition}:${m.offset}` : undefined);
    await readTopic(kafka, logger, topic, async (m) => {
      const ref = wantedRef(m);
      if (ref !== undefined) inputs.set(ref, asInput(source.kind, ref, await codec.decode(m.value)));
    }, {
      start: (p) => lowest.get(p) ?? (1n << 62n),
      // The dispatcher takes a tombstone on models.manifests as the model's retirement.
      onTombstone: (m) => {
        const ref = wantedRef(m);
        if (ref !== undefined && topic === TOPICS.manifests && m.key !== null) inputs.set(ref, { kind: 'retired', ref, model: retirementOf(m.key).model });
      },
    });
  }
  return inputs;
}

function asInput(kind: InputKind, ref: string, value: unknown): CoreInput {
  switch (kind) {
    case 'request':
      // The dispatcher keeps the request without its tensor once admitted; so does the replay.
      return { kind, ref, request: { ...(value as Extract<CoreInput, { kind: 'request' }>['request']), tensor: EMPTY } };
    case 'manifest':
      return { kind, ref, manifest: value as Extract<CoreInput, { kind: 'manifest' }>['manifest'] };
    case 'heartbeat':
      return { kind, ref, heartbeat: value as Extract<CoreInput, { kind: 'heartbeat' }>['heartbeat'] };
    case 'telemetry':
      return { kind, ref, sample: value as Extract<CoreInput, { kind: 'telemetry' }>['sample'] };
    case 'anomaly':
      return { kind, ref, alert: value as Extract<CoreInput, { kind: 'anomaly' }>['alert'] };
    case 'report':
      return { kind, ref, report: value as Extract<CoreInput, { kind: 'report' }>['report'] };
  }
}
