/**
 * Writes one dispatcher process's journal (see journal.ts). Where the topic is missing (a
 * deployment that has not applied topics/topics.json since the journal was added) the dispatcher
 * serves on without one and says so once: replay then cannot verify its decisions.
 */
import { describeError } from '../domain/errors.js';
import type { Kafka } from '../kafka/client.js';
import type { EventProducer } from '../kafka/producer.js';
import type { Logger } from '../log.js';
import { encodeJournalRecord, JOURNAL_TOPIC, type JournalInputs, type JournalMessage, type JournalStarted } from './journal.js';

/** At most this many turns in one `inputs` message. */
const MAX_GROUP = 1_000;

export interface JournalSink {
  /** A turn driven by a message ('topic:partition:offset') or a tick ('tick:<ms>'). */
  input(atMs: number, ref: string): void;
  /** A turn driven by the batcher's timer. */
  wake(atMs: number): void;
  /** A turn in which a request ('topic:partition:offset') was refused at admission. */
  rejected(atMs: number, ref: string, reason: string): void;
  /** Hands turns still gathered to the producer (before it is flushed at shutdown). */
  flush(): void;
}

export async function openJournal(kafka: Kafka, producer: EventProducer, log: Logger, started: JournalStarted): Promise<JournalSink> {
  const admin = kafka.admin();
  await admin.connect();
  let present: boolean;
  try {
    present = (await admin.listTopics()).includes(JOURNAL_TOPIC);
  } finally {
    await admin.disconnect();
  }
  if (!present) {
    log.warn('dispatcher.journal_off', { reason: `topic ${JOURNAL_TOPIC} does not exist (gpuflow topics apply creates it); replay cannot verify this process` });
    return { input: () => undefined, wake: () => undefined, rejected: () => undefined, flush: () => undefined };
  }
  let seq = 0;
  let failures = 0;
  const send = (record: JournalMessage): void => {
    producer.send(JOURNAL_TOPIC, [{ key: started.instance, value: encodeJournalRecord(record) }]).catch((error: unknown) => {
      // One line per hundred failures: a broker outage must not flood the log.
      if (failures++ % 100 === 0) log.error('dispatcher.journal_failed', { failures, error: describeError(error) });
    });
  };
  // Consecutive input turns are gathered until the event loop next turns (a fetched batch of
  // requests is admitted within one), or until any other turn, which goes after them. The producer
  // keeps the order, so the journal's order is still the turns' order.
  let group: JournalInputs | null = null;
  let flushQueued = false;
  const flush = (): void => {
    if (!group) return;
    const g = group;
    group = null;
    send(g.refs.length === 1 ? { type: 'input', instance: g.instance, seq: g.seq, atMs: g.atMs[0]!, ref: g.refs[0]! } : g);
  };
  const write = (record: JournalMessage): void => {
    flush();
    send(record);
  };
  write(started);
  return {
    input: (atMs, ref) => {
      group ??= { type: 'inputs', instance: started.instance, seq, atMs: [], refs: [] };
      group.atMs.push(atMs);
      group.refs.push(ref);
      seq++;
      if (group.refs.length >= MAX_GROUP) flush();
      else if (!flushQueued) {
        flushQueued = true;
        setImmediate(() => {
          flushQueued = false;
          flush();
        });
      }
    },
    wake: (atMs) => write({ type: 'wake', instance: started.instance, seq: seq++, atMs }),
    rejected: (atMs, ref, reason) => write({ type: 'rejected', instance: started.instance, seq: seq++, atMs, ref, reason }),
    flush,
  };
}
