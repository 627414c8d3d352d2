import type { Admin, Kafka } from 'kafkajs';

/** Tries before a retriable answer is taken as final. */
const ATTEMPTS = 5;

/**
 * The current end of each partition of `topic`, through an admin already connected. A broker that
 * just lost or gained a partition's leadership answers "not the leader" for a moment: such
 * retriable answers are asked again (kafkajs's admin gives them up at once).
 */
export async function endOffsetsWith(admin: Pick<Admin, 'fetchTopicOffsets'>, topic: string): Promise<Map<number, string>> {
  for (let attempt = 1; ; attempt++) {
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return new Map(offsets.map((o) => [o.partition, o.high]));
    } catch (error) {
      if ((error as { retriable?: boolean }).retriable !== true || attempt === ATTEMPTS) throw error;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}

/** The current end of each partition of `topic`: where a reader that wants only new messages starts. */
export async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, string>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await endOffsetsWith(admin, topic);
  } finally {
    await admin.disconnect();
  }
}
