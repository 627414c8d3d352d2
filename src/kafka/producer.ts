import type { IHeaders, Kafka, Producer } from 'kafkajs';

export interface OutgoingMessage {
  key: string | Buffer | null;
  value: Buffer;
  headers?: IHeaders;
  partition?: number;
}

/** Produces with acks from all in-sync replicas and broker-side de-duplication of retries. */
export interface EventProducer {
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  disconnect(): Promise<void>;
}

export async function createProducer(kafka: Kafka): Promise<EventProducer> {
  const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  return {
    async send(topic, messages) {
      if (messages.length === 0) return;
      await producer.send({ topic, acks: -1, messages });
    },
    disconnect: () => producer.disconnect(),
  };
}
