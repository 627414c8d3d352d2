/**
 * Kafka consumption as an RxJS Observable with at-least-once delivery:
 * - each Delivery carries ack(); an offset is committed only once it and every earlier offset of
 *   its partition have been acked (handled downstream), so a crash re-delivers unhandled messages;
 *   offsets are tracked per partition in typed arrays, so a million unacked messages cost a few
 *   megabytes here and no object each;
 * - backpressure: at most `maxInFlight` unacked deliveries; beyond that the partition is paused
 *   and resumed when acks bring the count under half;
 * - a message the decoder refuses goes to the dead-letter topic with the reason, and is acked.
 */
import { Observable, type Subscriber } from 'rxjs';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, PartitionAssigner } from 'kafkajs';
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
  /**
   * Marks the message handled. Idempotent. It may be kept apart from the delivery (`held.ack =
   * d.ack`): it holds the partition's tracker and the offset, not the message.
   */
  readonly ack: () => void;
  /**
   * `ack` in two parts: `d.acks.release(Number(d.offset))` is `d.ack()`. A holder of many unfinished
   * messages keeps these two instead of a function per message.
   */
  readonly acks: { release(offset: number): void };
}

export interface ConsumeOptions<T> {
  groupId: string;
  topics: string[];
  /**
   * Decodes one message; its position is given for events whose meaning depends on it (a compacted
   * topic's newest). A value, or a promise of one where decoding must wait (a schema to fetch).
   */
  decode: (value: Buffer, topic: string, position: { partition: number; offset: string }) => T | Promise<T>;
  /**
   * What a tombstone (a null value under a key, a compacted topic's delete) means to this consumer.
   * Without it, or for a tombstone without a key, the message is dead-lettered.
   */
  tombstone?: (key: Buffer, topic: string, position: { partition: number; offset: string }) => T;
  deadLetters: DeadLetterSink;
  /** Called once a message has gone to the dead-letter topic (it is never delivered). */
  onDeadLettered?: (position: { topic: string; partition: number; offset: string }) => void;
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
  /** Called when a rebalance begins, before this consumer rejoins: what it holds is about to move. */
  onRebalancing?: () => void;
  /** How the group leader hands out partitions (kafkajs's round robin when not given). */
  partitionAssigners?: PartitionAssigner[];
}

/**
 * The emitted offsets of one partition in one assignment, and which of them are acked: the commit
 * point is the first offset emitted and not yet acked. Offsets and flags sit in typed arrays, so
 * a message held downstream costs nine bytes here and no object; a consumer that holds a million
 * unfinished messages holds no million closures either (see `Delivery.ack`).
 */
export class PartitionTracker {
  private offsets = new Float64Array(64);
  private acked = new Uint8Array(64);
  private head = 0;
  private tail = 0;
  committable: number | null = null;
  committed: number | null = null;

  /** `released` hears each first ack of a message emitted as held (not of one acked at once). */
  constructor(private readonly released: () => void) {}

  emit(offset: number): void {
    if (this.tail === this.offsets.length) this.makeRoom();
    this.offsets[this.tail] = offset;
    this.acked[this.tail] = 0;
    this.tail++;
  }

  /** Acks an emitted offset; false when it is not pending (acked before, or never emitted here). */
  ack(offset: number): boolean {
    const i = this.indexOf(offset);
    if (i < 0 || this.acked[i] === 1) return false;
    this.acked[i] = 1;
    if (i === this.head) {
      while (this.head < this.tail && this.acked[this.head] === 1) this.head++;
      this.committable = this.offsets[this.head - 1]! + 1;
    }
    return true;
  }

  /** What a held delivery's ack does: the first call releases it, later ones do nothing. */
  release(offset: number): void {
    if (this.ack(offset)) this.released();
  }

  private indexOf(offset: number): number {
    if (this.head === this.tail) return -1;
    // Offsets usually follow one another, so the guess is right; compacted or transactional topics skip some.
    const guess = this.head + (offset - this.offsets[this.head]!);
    if (guess >= this.head && guess < this.tail && this.offsets[guess] === offset) return guess;
    let lo = this.head;
    let hi = this.tail - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.offsets[mid]!;
      if (at === offset) return mid;
      if (at < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Drops the acked prefix, and doubles the arrays when that frees less than half. */
  private makeRoom(): void {
    const live = this.tail - this.head;
    const size = live * 2 > this.offsets.length ? this.offsets.length * 2 : this.offsets.length;
    const offsets = size === this.offsets.length ? this.offsets : new Float64Array(size);
    const acked = size === this.acked.length ? this.acked : new Uint8Array(size);
    offsets.set(this.offsets.subarray(this.head, this.tail));
    acked.set(this.acked.subarray(this.head, this.tail));
    this.offsets = offsets;
    this.acked = acked;
    this.head = 0;
    this.tail = live;
  }
}

/** A delivered message. Its ack is made when asked for, not per message: most are acked at once, by reference to `ack`. */
class KafkaDelivery<T> implements Delivery<T> {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: string,
    readonly key: Buffer | null,
    readonly headers: IHeaders,
    readonly timestampMs: number,
    readonly value: T,
    readonly acks: PartitionTracker,
  ) {}

  get ack(): () => void {
    return this.acks.release.bind(this.acks, Number(this.offset));
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
  const { groupId, topics, decode, tombstone, deadLetters, logger } = options;
  const maxInFlight = options.maxInFlight ?? 10_000;
  const commitIntervalMs = options.commitIntervalMs ?? 250;

  {
    const consumer: Consumer = kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      ...(options.partitionAssigners ? { partitionAssigners: options.partitionAssigners } : {}),
      rebalanceTimeout: Math.max(2 * (options.sessionTimeoutMs ?? 30_000), 10_000),
    });
    const trackers = new Map<string, PartitionTracker>();
    const paused = new Set<string>();
    const seeked = new Set<string>();
    let inFlight = 0;
    let stopped = false;

    const trackerOf = (topic: string, partition: number): PartitionTracker => {
      const id = `${topic}:${partition}`;
      let tracker = trackers.get(id);
      if (!tracker) trackers.set(id, (tracker = new PartitionTracker(released)));
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

    /** A held delivery was acked (an ack after a rebalance too: it no longer counts, though the new owner re-delivers it). */
    function released(): void {
      inFlight--;
      maybeResume();
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
      // The tracker of this assignment: a rebalance replaces it, so acks of messages delivered
      // before it change nothing the new assignment commits.
      const tracker = trackerOf(batch.topic, batch.partition);
      let sinceHeartbeat = 0;
      // kafkajs's fetch position (not the commit point, which `tracker` keeps) moves past the
      // messages handled here when the loop leaves, however it leaves: once per fetched batch
      // rather than once per message.
      let handled: string | null = null;
      // A seek or a rebalance can only happen while this loop awaits, so staleness is asked again
      // only after an await (kafkajs builds a key string for each ask).
      let stale = isStale();
      try {
        for (const message of batch.messages) {
          if (stale || stopped || !isRunning()) return;
          if (inFlight >= maxInFlight) {
            paused.add(`${batch.topic}:${batch.partition}`);
            pause();
            logger.debug('consumer.paused', { groupId, topic: batch.topic, partition: batch.partition, inFlight });
            return;
          }
          const offset = Number(message.offset);
          tracker.emit(offset);
          let value: T;
          try {
            if (!message.value) {
              if (!tombstone || !message.key) throw new Error(tombstone ? 'tombstone without a key' : 'empty message value');
              value = tombstone(message.key, batch.topic, { partition: batch.partition, offset: message.offset });
            } else {
              const decoded = decode(message.value, batch.topic, { partition: batch.partition, offset: message.offset });
              if (decoded instanceof Promise) {
                value = await decoded;
                stale = isStale();
              } else value = decoded;
            }
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
            tracker.ack(offset);
            options.onDeadLettered?.({ topic: batch.topic, partition: batch.partition, offset: message.offset });
            handled = message.offset;
            stale = isStale();
            continue;
          }
          inFlight++;
          subscriber.next(
            new KafkaDelivery<T>(
              batch.topic,
              batch.partition,
              message.offset,
              // A copy: a slice would keep the whole fetch response alive as long as the delivery.
              message.key ? Buffer.from(message.key) : null,
              message.headers ?? {},
              Number(message.timestamp),
              value,
              tracker,
            ),
          );
          handled = message.offset;
          // kafkajs sends a heartbeat only when its interval has passed; asking once per message
          // costs an await per message for nothing.
          if (++sinceHeartbeat === 64) {
            sinceHeartbeat = 0;
            await heartbeat();
            stale = isStale();
          }
        }
      } finally {
        if (handled !== null) resolveOffset(handled);
      }
      await heartbeat();
    }

    const timer = setInterval(() => void commit(), commitIntervalMs);
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
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
    consumer.on(consumer.events.REBALANCING, () => options.onRebalancing?.());
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
