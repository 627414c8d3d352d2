/**
 * One codec per topic, chosen by the topic's declared value format: Avro through the registry
 * (Confluent framing), or FlatBuffers for batches. Decoding failures are DecodeError, which the
 * consumer turns into a dead letter.
 */
import { DecodeError } from '../../domain/errors.js';
import type { Batch } from '../../domain/events/batch.js';
import type { RegistryClient } from '../registry.js';
import type { TopicSpec } from '../topics.js';
import { AVRO_EVENTS, isAvroEventName, readAvroSchema, type AvroEventName, type AvroEventOf } from './avro-events.js';
import { decodeBatch, encodeBatch } from './batch-codec.js';

export interface TopicCodec<T> {
  topic: string;
  /** Synchronous: the schema is registered when the codec is made, so nothing is left to wait for. */
  encode(value: T): Buffer;
  /**
   * Synchronous for the codec's own schema and for batches (the hot path: no promise per message);
   * a promise only when another schema version must be fetched first. `await` takes either.
   */
  decode(bytes: Buffer): T | Promise<T>;
}

export const subjectOf = (topic: string): string => `${topic}-value`;

/** Registers the topic's schema (idempotent: the same schema keeps its id) and returns its codec. */
export async function avroCodec<N extends AvroEventName>(registry: RegistryClient, topic: string, name: N): Promise<TopicCodec<AvroEventOf<N>>> {
  const mapping = AVRO_EVENTS[name] as unknown as { toAvro(v: unknown): unknown; fromAvro(r: unknown): AvroEventOf<N> };
  const schema = readAvroSchema(name);
  const id = await registry.register(subjectOf(topic), schema);
  const fullName = `${JSON.parse(schema).namespace}.${JSON.parse(schema).name}`;
  const accepted = new Set<number>([id]);
  const own = await registry.framedCodec(id);
  return {
    topic,
    encode: (value) => own.encode(mapping.toAvro(value)),
    decode(bytes) {
      const schemaId = registry.schemaIdOf(bytes);
      if (schemaId === id) return mapping.fromAvro(own.decode(bytes));
      return (async () => {
        if (!accepted.has(schemaId)) {
          // Another version of the same record (an older producer) is fine; another record is not.
          const found = await registry.schemaName(schemaId);
          if (found !== fullName) throw new DecodeError(`schema id ${schemaId} is ${found || 'unknown'}, expected ${fullName} on ${topic}`);
          accepted.add(schemaId);
        }
        return mapping.fromAvro(await registry.decode(bytes));
      })();
    },
  };
}

/**
 * Codecs of one schema for topics known only per message (reply topics, dead-letter topics): each
 * topic's subject is registered on first use and its codec kept, not registered again per message.
 */
export function codecsByTopic<N extends AvroEventName>(registry: RegistryClient, name: N): (topic: string) => Promise<TopicCodec<AvroEventOf<N>>> {
  const codecs = new Map<string, Promise<TopicCodec<AvroEventOf<N>>>>();
  return (topic) => {
    let codec = codecs.get(topic);
    if (!codec) {
      codec = avroCodec(registry, topic, name);
      // A failed registration is not cached: the next message tries again.
      codec.catch(() => codecs.delete(topic));
      codecs.set(topic, codec);
    }
    return codec;
  };
}

export const batchCodec = (topic: string): TopicCodec<Batch> => ({
  topic,
  encode: (batch) => {
    const bytes = encodeBatch(batch);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  },
  decode: (bytes) => decodeBatch(bytes),
});

/** Registers every Avro subject the declarations name; returns subject → id. */
export async function registerSchemas(registry: RegistryClient, specs: readonly TopicSpec[]): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const spec of specs) {
    if (spec.value.format !== 'avro') continue;
    if (!isAvroEventName(spec.value.schema)) throw new DecodeError(`topic ${spec.name} names unknown schema ${spec.value.schema}`);
    ids.set(subjectOf(spec.name), await registry.register(subjectOf(spec.name), readAvroSchema(spec.value.schema)));
  }
  return ids;
}
