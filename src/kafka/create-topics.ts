/**
 * Creating topics and waiting until every partition has a leader. kafkajs's own `waitForLeaders`
 * gives up when a broker answers UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker does for a
 * moment after creating a topic, before its metadata has caught up; here that answer, like any
 * retriable one, means "not yet".
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import { GpuflowError } from '../domain/errors.js';

/** The topics were created but did not all get a leader in time. */
export class TopicsNotReadyError extends GpuflowError {}

/** Creates `topics` (those that exist are left alone) and resolves once each partition has a leader. */
export async function createTopicsAndWait(admin: Admin, topics: ITopicConfig[], timeoutMs = 30_000): Promise<void> {
  if (topics.length === 0) return;
  await admin.createTopics({ topics, waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: names });
      if (found.length === names.length && found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (error) {
      if ((error as { retriable?: boolean }).retriable !== true) throw error;
      last = error;
    }
    if (Date.now() > deadline) throw new TopicsNotReadyError(`topics ${names.join(', ')} have no leader after ${timeoutMs} ms`, { cause: last });
    await new Promise((r) => setTimeout(r, 100));
  }
}
