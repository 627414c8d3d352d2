import fc from 'fast-check';
import kafkajs, { type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { rememberingPartitioner } from '../../../src/kafka/producer.js';

const metadata = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], offlineReplicas: [], partitionErrorCode: 0 }));

describe('remembering partitioner', () => {
  it('puts every record where Kafka’s default partitioner does, keys repeated or not', () => {
    const key = fc.oneof(fc.constantFrom('bert-base', 'acme', 'w1'), fc.string({ maxLength: 12 }));
    const record = fc.record({ topic: fc.constantFrom('a', 'b'), key: fc.option(key, { nil: null }), partitions: fc.constantFrom(1, 6, 12), partition: fc.option(fc.nat(5), { nil: undefined }) });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 80 }), (records) => {
        const ours = rememberingPartitioner();
        const theirs = kafkajs.Partitioners.DefaultPartitioner();
        for (const r of records) {
          // Keyless records are spread round robin from a random start: only keyed ones are compared.
          if (r.key === null && r.partition === undefined) continue;
          const message = { key: r.key, value: Buffer.alloc(0), ...(r.partition !== undefined ? { partition: r.partition } : {}) };
          const args = { topic: r.topic, partitionMetadata: metadata(r.partitions), message };
          expect(ours(args)).toBe(theirs(args));
        }
      }),
    );
  });
});
