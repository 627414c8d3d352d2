/**
 * scheduler.snapshots: a compacted topic holding, per dispatcher deployment and partition of
 * inference.requests, the latest ledger of that partition (src/processors/dispatch/partition-ledger.ts)
 * and the offsets of scheduler.events and worker.reports it covers. Key: `<group>/<partition>`;
 * a snapshot of requests partition p is written to partition p mod N of this topic, so the latest
 * one is found by reading back from that partition's end, not the whole topic.
 *
 * Value: gzip of JSON (the ledger is mostly request ids, which compress well).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Admin, Kafka } from 'kafkajs';
import { DecodeError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { LedgerSnapshot } from '../processors/dispatch/partition-ledger.js';
import { readRanges } from './partition-ranges.js';
import type { EventProducer } from './producer.js';

export const SNAPSHOTS_TOPIC = 'scheduler.snapshots';

/** How many of the newest messages of a snapshot partition are read first when looking for a key. */
const READ_BACK = 32n;

export interface PartitionSnapshot {
  version: 1;
  groupId: string;
  partition: number;
  /** The first offsets of scheduler.events and worker.reports (same partition) not folded in. */
  eventsOffset: string;
  reportsOffset: string;
  takenAtMs: number;
  ledger: LedgerSnapshot;
}

export const snapshotKey = (groupId: string, partition: number): string => `${groupId}/${partition}`;

export function encodeSnapshot(snapshot: PartitionSnapshot): Buffer {
  return gzipSync(Buffer.from(JSON.stringify(snapshot)));
}

export function decodeSnapshot(value: Buffer): PartitionSnapshot {
  let parsed: unknown;
  try {
    parsed = JSON.parse(gunzipSync(value).toString('utf8'));
  } catch (cause) {
    throw new DecodeError(`${SNAPSHOTS_TOPIC}: not a gzip JSON snapshot`, { cause });
  }
  const s = parsed as Partial<PartitionSnapshot> | null;
  if (!s || s.version !== 1 || typeof s.groupId !== 'string' || typeof s.partition !== 'number' || typeof s.eventsOffset !== 'string' || typeof s.reportsOffset !== 'string' || !s.ledger) {
    throw new DecodeError(`${SNAPSHOTS_TOPIC}: a snapshot needs version 1, groupId, partition, eventsOffset, reportsOffset and ledger`);
  }
  return s as PartitionSnapshot;
}

export async function writeSnapshot(producer: EventProducer, snapshotPartitions: number, snapshot: PartitionSnapshot): Promise<number> {
  const value = encodeSnapshot(snapshot);
  await producer.send(SNAPSHOTS_TOPIC, [{ key: snapshotKey(snapshot.groupId, snapshot.partition), value, partition: snapshot.partition % snapshotPartitions }]);
  return value.byteLength;
}

/** The latest snapshot of each of `partitions` of `groupId`; a partition with none is left out. */
export async function latestSnapshots(kafka: Kafka, admin: Admin, logger: Logger, groupId: string, partitions: readonly number[]): Promise<Map<number, PartitionSnapshot>> {
  const offsets = await admin.fetchTopicOffsets(SNAPSHOTS_TOPIC);
  const count = offsets.length;
  const bounds = new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
  const found = new Map<number, PartitionSnapshot>();
  const keys = new Map(partitions.map((p) => [snapshotKey(groupId, p), p]));
  const read = async (fromOf: (low: bigint, high: bigint) => bigint, wanted: readonly number[]): Promise<void> => {
    const targets = [...new Set(wanted.map((p) => p % count))];
    const ranges = targets.flatMap((q) => {
      const b = bounds.get(q);
      return b ? [{ topic: SNAPSHOTS_TOPIC, partition: q, from: fromOf(b.low, b.high), to: b.high }] : [];
    });
    await readRanges(kafka, logger, ranges, (m) => {
      const p = m.key ? keys.get(m.key.toString()) : undefined;
      if (p === undefined || m.value === null) return;
      // Later offsets win: the newest snapshot of the key.
      found.set(p, decodeSnapshot(m.value));
    });
  };
  await read((low, high) => (high - READ_BACK > low ? high - READ_BACK : low), partitions);
  // Other deployments' snapshots may have pushed a key further back: then read the whole partition.
  const missing = partitions.filter((p) => !found.has(p) && (bounds.get(p % count)?.high ?? 0n) - (bounds.get(p % count)?.low ?? 0n) > READ_BACK);
  if (missing.length > 0) await read((low) => low, missing);
  return found;
}
