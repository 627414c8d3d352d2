/**
 * Reads given offset ranges of given partitions, of one or several topics, once, in offset order
 * per partition, with one throwaway consumer group that commits nothing and is deleted after. For
 * reads of a known stretch of a log (a takeover's snapshot and the log after it), not for following
 * a topic.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { describeError } from '../domain/errors.js';
import type { Logger } from '../log.js';

/** Offsets [from, to) of one partition. */
export interface PartitionRange {
  topic: string;
  partition: number;
  from: bigint;
  to: bigint;
}

export interface RangeMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestampMs: number;
}

export async function readRanges(kafka: Kafka, logger: Logger, ranges: readonly PartitionRange[], onMessage: (m: RangeMessage) => Promise<void> | void): Promise<void> {
  const wanted = new Map<string, PartitionRange>();
  for (const r of ranges) if (r.from < r.to) wanted.set(`${r.topic}:${r.partition}`, r);
  if (wanted.size === 0) return;
  const topics = [...new Set([...wanted.values()].map((r) => r.topic))];
  const groupId = `gpuflow-range-${randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 50, allowAutoTopicCreation: false });
  const left = new Set(wanted.keys());
  let finished!: () => void;
  let failed!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => ((finished = resolve), (failed = reject)));
  await consumer.connect();
  try {
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const id = `${batch.topic}:${batch.partition}`;
        const range = wanted.get(id);
        if (!range || !left.has(id)) return;
        try {
          for (const m of batch.messages) {
            const offset = BigInt(m.offset);
            if (offset < range.from || offset >= range.to) continue;
            await onMessage({ topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key, value: m.value, timestampMs: Number(m.timestamp) });
          }
        } catch (error) {
          failed(error);
          return;
        }
        if (BigInt(batch.lastOffset()) + 1n >= range.to) {
          left.delete(id);
          consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
          if (left.size === 0) finished();
        }
      },
    });
    for (const r of wanted.values()) consumer.seek({ topic: r.topic, partition: r.partition, offset: r.from.toString() });
    // Partitions outside the ranges are not fetched at all.
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const topic of topics) {
        const all = (await admin.fetchTopicOffsets(topic)).map((o) => o.partition);
        const unread = all.filter((p) => !wanted.has(`${topic}:${p}`));
        if (unread.length > 0) consumer.pause([{ topic, partitions: unread }]);
      }
    } finally {
      await admin.disconnect();
    }
    await done;
  } finally {
    await consumer.disconnect();
    const cleanup = kafka.admin();
    await cleanup.connect();
    await cleanup.deleteGroups([groupId]).catch((error: unknown) => logger.debug('ranges.group_not_deleted', { groupId, error: describeError(error) }));
    await cleanup.disconnect();
  }
}
