/**
 * Kafka consumption as an RxJS Observable with at-least-once delivery:
 * - each Delivery carries ack(); an offset is committed only once it and every earlier offset of
 *   its partition have been acked (handled downstream), so a crash re-delivers unhandled messages;
 * - backpressure: at most `maxInFlight` unacked deliveries; beyond that the partition is paused
 *   and resumed when acks bring the count under half;
 * - a message the decoder refuses goes to the dead-letter topic with the reason, and is acked.
 */
import { Observable, type Subscriber } from 'rxjs';
import type { Consumer, EachBatchPayload, IHeaders, Kafka } from 'kafkajs';
import { describeError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import type { DeadLetterSink } from './dead-letters.js';

export interface Delivery<T> {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  headers: IHeaders;
  timestampMs: number;
  value: T;
  /** Marks the message handled. Idempotent. */
  ack(): void;
}

export interface ConsumeOptions<T> {
  groupId: string;
  topics: string[];
  /** Decodes one message; its position is given for events whose meaning depends on it (a compacted topic's newest). */
  decode: (value: Buffer, topic: string, position: { partition: number; offset: string }) => Promise<T>;
  deadLetters: DeadLetterSink;
  logger: Logger;
  fromBeginning?: boolean;
  maxInFlight?: number;
  commitIntervalMs?: number;
  /** How long the group waits for a silent member before it moves its partitions (Kafka's minimum is 6 s). */
  sessionTimeoutMs?: number;
  /** Where to start a partition the first time it is assigned (an offset), overriding committed offsets; undefined: as usual. */
  startAt?: (topic: string, partition: number) => string | undefined;
  /** Called with the partitions this consumer owns after each rebalance. */
  onAssignment?: (assigned: { topic: string; partitions: number[] }[]) => void;
}

/** Tracks emitted offsets of one partition; the commit point is the first offset not yet acked. */
class PartitionTracker {
  private readonly pending: { offset: number; acked: boolean }[] = [];
  private head = 0;
  committable: number | null = null;
  committed: number | null = null;

  emit(offset: number): { acked: boolean } {
    const entry = { offset, acked: false };
    this.pending.push(entry);
    return entry;
  }

  advance(): void {
    while (this.head < this.pending.length && this.pending[this.head]!.acked) {
      this.committable = this.pending[this.head]!.offset + 1;
      this.head++;
    }
    // Compact now and then rather than shift() on every ack.
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }
}

export interface ConsumerSource<T> {
  /** Subscribing joins the group; unsubscribing leaves it. One subscriber at a time. */
  deliveries$: Observable<Delivery<T>>;
  /** Commits what was acked, leaves the group and completes the stream. */
  close(): Promise<void>;
}

export function consume<T>(kafka: Kafka, options: ConsumeOptions<T>): ConsumerSource<T> {
  let closeActive: (() => Promise<void>) | null = null;
  const deliveries$ = new Observable<Delivery<T>>((subscriber) => {
    const session = runConsumer(kafka, options, subscriber);
    closeActive = async () => {
      await session.close();
      subscriber.complete();
    };
    return () => void session.close();
  });
  return { deliveries$, close: async () => closeActive?.() };
}

function runConsumer<T>(kafka: Kafka, options: ConsumeOptions<T>, subscriber: Subscriber<Delivery<T>>): { close(): Promise<void> } {
  const { groupId, topics, decode, deadLetters, logger } = options;
  const maxInFlight = options.maxInFlight ?? 10_000;
  const commitIntervalMs = options.commitIntervalMs ?? 250;

  {
    const consumer: Consumer = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      rebalanceTimeout: Math.max(2 * (options.sessionTimeoutMs ?? 30_000), 10_000),
    });
    const trackers = new Map<string, PartitionTracker>();
    const paused = new Set<string>();
    const seeked = new Set<string>();
    let generation = 0;
    let inFlight = 0;
    let stopped = false;

    const trackerOf = (topic: string, partition: number): PartitionTracker => {
      const id = `${topic}:${partition}`;
      let tracker = trackers.get(id);
      if (!tracker) trackers.set(id, (tracker = new PartitionTracker()));
      return tracker;
    };

    async function commit(): Promise<void> {
      const offsets = [];
      for (const [id, t] of trackers) {
        if (t.committable !== null && t.committable !== t.committed) {
          const cut = id.lastIndexOf(':');
          offsets.push({ topic: id.slice(0, cut), partition: Number(id.slice(cut + 1)), offset: String(t.committable), tracker: t, value: t.committable });
        }
      }
      if (offsets.length === 0) return;
      try {
        await consumer.commitOffsets(offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })));
        for (const o of offsets) o.tracker.committed = o.value;
      } catch (error) {
        // A rebalance took the partition: its unacked messages go to the new owner, nothing is lost.
        logger.warn('consumer.commit_failed', { groupId, error: describeError(error) });
      }
    }

    function maybeResume(): void {
      if (paused.size === 0 || inFlight > maxInFlight / 2) return;
      const byTopic = new Map<string, number[]>();
      for (const id of paused) {
        const cut = id.lastIndexOf(':');
        const list = byTopic.get(id.slice(0, cut)) ?? [];
        list.push(Number(id.slice(cut + 1)));
        byTopic.set(id.slice(0, cut), list);
      }
      paused.clear();
      consumer.resume([...byTopic].map(([topic, partitions]) => ({ topic, partitions })));
    }

    async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale, pause }: EachBatchPayload): Promise<void> {
      const tracker = trackerOf(batch.topic, batch.partition);
      const gen = generation;
      for (const message of batch.messages) {
        if (!isRunning() || isStale() || stopped) return;
        if (inFlight >= maxInFlight) {
          paused.add(`${batch.topic}:${batch.partition}`);
          pause();
          logger.debug('consumer.paused', { groupId, topic: batch.topic, partition: batch.partition, inFlight });
          return;
        }
        const entry = tracker.emit(Number(message.offset));
        let value: T;
        try {
          if (!message.value) throw new Error('empty message value');
          value = await decode(message.value, batch.topic, { partition: batch.partition, offset: message.offset });
        } catch (error) {
          await deadLetters.send({
            sourceTopic: batch.topic,
            partition: batch.partition,
            offset: message.offset,
            reason: describeError(error),
            errorClass: error instanceof Error ? error.name : 'Error',
            key: message.key ?? null,
            value: message.value ?? null,
            timestampMs: Number(message.timestamp),
          });
          logger.warn('consumer.dead_lettered', { topic: batch.topic, partition: batch.partition, offset: message.offset, reason: describeError(error) });
          entry.acked = true;
          tracker.advance();
          resolveOffset(message.offset);
          continue;
        }
        inFlight++;
        let done = false;
        subscriber.next({
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
          // A copy: a slice would keep the whole fetch response alive as long as the delivery.
          key: message.key ? Buffer.from(message.key) : null,
          headers: message.headers ?? {},
          timestampMs: Number(message.timestamp),
          value,
          ack: () => {
            if (done) return;
            done = true;
            inFlight--;
            if (gen !== generation) return; // acked after a rebalance: the new owner re-delivers it
            entry.acked = true;
            tracker.advance();
            maybeResume();
          },
        });
        resolveOffset(message.offset);
        await heartbeat();
      }
    }

    const timer = setInterval(() => void commit(), commitIntervalMs);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      generation++;
      trackers.clear();
      paused.clear();
      const assigned = Object.entries(payload.memberAssignment).map(([topic, partitions]) => ({ topic, partitions }));
      logger.info('consumer.assigned', { groupId, assigned });
      for (const { topic, partitions } of assigned) {
        for (const partition of partitions) {
          // Only once: after a rebalance the committed position is the right one.
          if (seeked.has(`${topic}:${partition}`)) continue;
          seeked.add(`${topic}:${partition}`);
          const offset = options.startAt?.(topic, partition);
          if (offset !== undefined) consumer.seek({ topic, partition, offset });
        }
      }
      options.onAssignment?.(assigned);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) subscriber.error(payload.error);
    });

    (async () => {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: options.fromBeginning ?? false });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 4, eachBatch });
    })().catch((error: unknown) => subscriber.error(error));

    let closing: Promise<void> | null = null;
    return {
      close: () =>
        (closing ??= (async () => {
          stopped = true;
          clearInterval(timer);
          // Commit what was handled, then leave the group so its partitions move at once.
          await commit();
          await consumer.disconnect().catch(() => undefined);
        })()),
    };
  }
}
