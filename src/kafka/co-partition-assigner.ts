/**
 * A kafkajs partition assigner for dispatcher instances that share the work by partition. The
 * partitions of every subscribed topic fall into share groups (partition p into group p mod
 * `groups`), and each share group goes whole to one member: partition p of inference.requests and
 * partition p of worker.reports always go together, so the reports that close a batch reach the
 * instance that formed it (both topics are keyed by model, with the same partition count), and a
 * device share (src/processors/dispatch/device-share.ts) is used by one instance at a time.
 *
 * Members are ranked by member id; group g goes to member g mod M. With more members than groups,
 * the members ranked beyond the groups get nothing and stand by: the group coordinator moves a
 * dead member's groups to the others, which is the failover.
 */
import kafkajs, { type PartitionAssigner } from 'kafkajs';

const { AssignerProtocol } = kafkajs;

export const CO_PARTITION_ASSIGNER = 'GpuflowCoPartition';

/** Member id → the share groups it holds, ascending; every member is listed. */
export function assignShareGroups(memberIds: readonly string[], groups: number): Map<string, number[]> {
  const ranked = [...memberIds].sort();
  const out = new Map<string, number[]>(ranked.map((m) => [m, []]));
  if (ranked.length === 0) return out;
  for (let g = 0; g < groups; g++) out.get(ranked[g % ranked.length]!)!.push(g);
  return out;
}

/** The assigner for a consumer whose topics are co-partitioned; `groups` as in assignShareGroups. */
export function coPartitionAssigner(groups: number): PartitionAssigner {
  return ({ cluster }) => ({
    name: CO_PARTITION_ASSIGNER,
    version: 1,
    async assign({ members, topics }) {
      const owners = assignShareGroups(members.map((m) => m.memberId), groups);
      const byMember = new Map<string, Record<string, number[]>>([...owners.keys()].map((m) => [m, {}]));
      const ownerOfGroup = new Map<number, string>();
      for (const [member, held] of owners) for (const g of held) ownerOfGroup.set(g, member);
      for (const topic of topics) {
        for (const { partitionId } of cluster.findTopicPartitionMetadata(topic)) {
          const member = ownerOfGroup.get(partitionId % groups);
          if (member === undefined) continue;
          const assignment = byMember.get(member)!;
          (assignment[topic] ??= []).push(partitionId);
        }
      }
      return [...byMember].map(([memberId, assignment]) => {
        for (const list of Object.values(assignment)) list.sort((a, b) => a - b);
        return { memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData: Buffer.alloc(0) }) };
      });
    },
    protocol({ topics }) {
      return { name: CO_PARTITION_ASSIGNER, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
    },
  });
}
