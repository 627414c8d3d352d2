import kafkajs, { type ICustomPartitioner, type IHeaders, type Kafka, type Producer, type TopicMessages } from 'kafkajs';

const { Partitioners } = kafkajs;

/**
 * Kafka's default partitioner (murmur2 of the key), remembering each topic's last string key: gpuflow
 * keys most records by a few repeated values (a model, a tenant, the dispatcher's instance), and
 * hashing the same key for every record was a measurable share of a burst's time. The partition is
 * the one the default partitioner gives, so keyed records land where any Kafka client puts them.
 */
export const rememberingPartitioner: ICustomPartitioner = () => {
  const hash = Partitioners.DefaultPartitioner();
  const last = new Map<string, { key: string; partitions: number; partition: number }>();
  return (args) => {
    const { topic, partitionMetadata, message } = args;
    if (typeof message.key !== 'string' || (message.partition !== undefined && message.partition !== null)) return hash(args);
    const seen = last.get(topic);
    if (seen && seen.key === message.key && seen.partitions === partitionMetadata.length) return seen.partition;
    const partition = hash(args);
    if (seen) {
      seen.key = message.key;
      seen.partitions = partitionMetadata.length;
      seen.partition = partition;
    } else last.set(topic, { key: message.key, partitions: partitionMetadata.length, partition });
    return partition;
  };
};

export interface OutgoingMessage {
  key: string | Buffer | null;
  /** null: a tombstone, which deletes the key from a compacted topic. */
  value: Buffer | null;
  headers?: IHeaders;
  partition?: number;
}

/**
 * Produces with acks from all in-sync replicas and broker-side de-duplication of retries.
 * Sends made within `lingerMs` of each other travel in one request: an idempotent producer keeps
 * one request in flight, so without lingering every concurrent send would wait its own round trip.
 */
export interface EventProducer {
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  disconnect(): Promise<void>;
}

export interface ProducerOptions {
  lingerMs?: number;
  /**
   * Flush early once this many messages wait. kafkajs groups a request's messages by partition in
   * time (and garbage) quadratic in one partition's count, and gpuflow keys most topics by a few
   * values (a model, a tenant): 2,000 requests of one model in one send made a tenth of a burst's
   * allocations. A few hundred per request keep requests large and that cost small.
   */
  maxBatchMessages?: number;
}

interface Waiting {
  topic: string;
  messages: OutgoingMessage[];
  resolve(): void;
  reject(error: unknown): void;
}

export async function createProducer(kafka: Kafka, options: ProducerOptions = {}): Promise<EventProducer> {
  const lingerMs = options.lingerMs ?? 2;
  const maxBatch = options.maxBatchMessages ?? 250;
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: rememberingPartitioner,
    // An idempotent producer retries until the broker takes the record: giving up could reorder or
    // duplicate. The wait between retries stops growing at 1 s, so a send resumes within about a
    // second of a new leader being elected rather than up to 5 s later.
    retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 1_000 },
  });
  await producer.connect();
  let queue: Waiting[] = [];
  let queued = 0;
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> = Promise.resolve();

  function flush(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = queue;
    queue = [];
    queued = 0;
    if (batch.length === 0) return;
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const w of batch) {
      const list = byTopic.get(w.topic);
      if (list) for (const m of w.messages) list.push(m);
      else byTopic.set(w.topic, w.messages.slice());
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    // Requests go one after another, in the order they were made.
    flushing = flushing.then(() =>
      producer.sendBatch({ acks: -1, topicMessages }).then(
        () => batch.forEach((w) => w.resolve()),
        (error: unknown) => batch.forEach((w) => w.reject(error)),
      ),
    );
  }

  return {
    send(topic, messages) {
      if (messages.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        queue.push({ topic, messages, resolve, reject });
        queued += messages.length;
        if (queued >= maxBatch) flush();
        else timer ??= setTimeout(flush, lingerMs);
      });
    },
    async disconnect() {
      flush();
      await flushing;
      await producer.disconnect();
    },
  };
}
