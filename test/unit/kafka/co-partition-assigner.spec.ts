import fc from 'fast-check';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { assignShareGroups, CO_PARTITION_ASSIGNER, coPartitionAssigner } from '../../../src/kafka/co-partition-assigner.js';

const { AssignerProtocol } = kafkajs;

describe('co-partition assigner', () => {
  it('gives every share group to exactly one member, evenly, whatever order members come in (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 12 }), (members, groups) => {
        const a = assignShareGroups(members, groups);
        expect([...a.keys()].sort()).toEqual([...members].sort());
        const all = [...a.values()].flat().sort((x, y) => x - y);
        expect(all).toEqual(Array.from({ length: groups }, (_, g) => g));
        const counts = [...a.values()].map((g) => g.length).filter((n) => n > 0);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
        expect(assignShareGroups([...members].reverse(), groups)).toEqual(a);
        // More members than groups: the extra ones stand by.
        expect([...a.values()].filter((g) => g.length > 0)).toHaveLength(Math.min(groups, members.length));
      }),
    );
  });

  it('assigns partition p of every topic to the member holding group p mod groups', async () => {
    const partitions = (n: number) => Array.from({ length: n }, (_, i) => ({ partitionId: i }));
    const cluster = { findTopicPartitionMetadata: (topic: string) => (topic === 'inference.requests' ? partitions(6) : partitions(6)) };
    const assigner = coPartitionAssigner(2)({ cluster: cluster as never, groupId: 'g', logger: undefined as never });
    expect(assigner.name).toBe(CO_PARTITION_ASSIGNER);
    const out = await assigner.assign({ members: [{ memberId: 'b', memberMetadata: Buffer.alloc(0) }, { memberId: 'a', memberMetadata: Buffer.alloc(0) }, { memberId: 'c', memberMetadata: Buffer.alloc(0) }], topics: ['inference.requests', 'worker.reports'] });
    const decoded = new Map(out.map((o) => [o.memberId, AssignerProtocol.MemberAssignment.decode(o.memberAssignment)!.assignment]));
    expect(decoded.get('a')).toEqual({ 'inference.requests': [0, 2, 4], 'worker.reports': [0, 2, 4] });
    expect(decoded.get('b')).toEqual({ 'inference.requests': [1, 3, 5], 'worker.reports': [1, 3, 5] });
    expect(decoded.get('c')).toEqual({});
    const meta = AssignerProtocol.MemberMetadata.decode(assigner.protocol({ topics: ['inference.requests'] }).metadata);
    expect(meta?.topics).toEqual(['inference.requests']);
  });
});
