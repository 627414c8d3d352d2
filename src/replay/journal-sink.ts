/**
 * Writes one dispatcher process's journal (see journal.ts). Where the topic is missing (a
 * deployment that has not applied topics/topics.json since the journal was added) the dispatcher
 * serves on without one and says so once: replay then cannot verify its decisions.
 */
import { describeError } from '../domain/errors.js';
import type { Kafka } from '../kafka/client.js';
import type { EventProducer } from '../kafka/producer.js';
import type { Logger } from '../log.js';
import { encodeJournalRecord, JOURNAL_TOPIC, type JournalRecord, type JournalStarted } from './journal.js';

export interface JournalSink {
  /** A turn driven by a message ('topic:partition:offset') or a tick ('tick:<ms>'). */
  input(atMs: number, ref: string): void;
  /** A turn driven by the batcher's timer. */
  wake(atMs: number): void;
  /** A turn in which a request ('topic:partition:offset') was refused at admission. */
  rejected(atMs: number, ref: string, reason: string): void;
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
    return { input: () => undefined, wake: () => undefined, rejected: () => undefined };
  }
  let seq = 0;
  let failures = 0;
  const write = (record: JournalRecord): void => {
    producer.send(JOURNAL_TOPIC, [{ key: started.instance, value: encodeJournalRecord(record) }]).catch((error: unknown) => {
      // One line per hundred failures: a broker outage must not flood the log.
      if (failures++ % 100 === 0) log.error('dispatcher.journal_failed', { failures, error: describeError(error) });
    });
  };
  write(started);
  return {
    input: (atMs, ref) => write({ type: 'input', instance: started.instance, seq: seq++, atMs, ref }),
    wake: (atMs) => write({ type: 'wake', instance: started.instance, seq: seq++, atMs }),
    rejected: (atMs, ref, reason) => write({ type: 'rejected', instance: started.instance, seq: seq++, atMs, ref, reason }),
  };
}
