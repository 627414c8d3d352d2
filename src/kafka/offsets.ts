import type { Admin, Kafka } from 'kafkajs';

/** The current end of each partition of `topic`, through an admin already connected. */
export async function endOffsetsWith(admin: Admin, topic: string): Promise<Map<number, string>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, o.high]));
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
