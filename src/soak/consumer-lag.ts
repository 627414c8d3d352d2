/**
 * Consumer lag as Kafka itself sees it: a group's committed offsets against the topic's end
 * offsets (what `kafka-consumer-groups --describe` prints). A partition the group has never
 * committed counts from the end it had when the measurement began (`baseline`), which is where a
 * group that starts at the end of its topic stands.
 */
import type { Kafka } from '../kafka/client.js';

type Admin = ReturnType<Kafka['admin']>;

export interface WatchedGroup {
  groupId: string;
  topic: string;
}

/** Messages behind, summed over the topic's partitions. */
export async function groupLag(admin: Admin, group: WatchedGroup, baseline: ReadonlyMap<number, string>): Promise<number> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(group.topic), admin.fetchOffsets({ groupId: group.groupId, topics: [group.topic] })]);
  const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, p.offset]));
  let lag = 0;
  for (const { partition, high } of ends) {
    const stored = byPartition.get(partition);
    const from = stored !== undefined && stored !== '-1' ? stored : (baseline.get(partition) ?? high);
    lag += Math.max(0, Number(BigInt(high) - BigInt(from)));
  }
  return lag;
}
