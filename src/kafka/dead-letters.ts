/**
 * Dead-lettering: a message that cannot be decoded or processed goes, whole, to TOPIC.dlq with
 * the reason and where it came from, so nothing is lost and the consumer goes on.
 */
import type { DeadLetter } from '../domain/events/dead-letter.js';
import type { EventProducer } from './producer.js';
import type { TopicCodec } from './codecs/topic-codec.js';

export const dlqTopicOf = (topic: string): string => `${topic}.dlq`;

export interface DeadLetterSink {
  send(entry: DeadLetter): Promise<void>;
}

/** `codecFor` gives the dead-letter codec of a DLQ topic (they share one schema, one subject each). */
export function createDeadLetterSink(producer: EventProducer, codecFor: (dlqTopic: string) => Promise<TopicCodec<DeadLetter>>): DeadLetterSink {
  return {
    async send(entry) {
      const topic = dlqTopicOf(entry.sourceTopic);
      const codec = await codecFor(topic);
      await producer.send(topic, [
        {
          key: entry.key ? Buffer.from(entry.key) : null,
          value: codec.encode(entry),
          headers: { 'gpuflow-dlq-reason': entry.reason, 'gpuflow-source': `${entry.sourceTopic}:${entry.partition}:${entry.offset}` },
        },
      ]);
    },
  };
}
