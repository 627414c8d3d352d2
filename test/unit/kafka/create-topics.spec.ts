import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createTopicsAndWait, TopicsNotReadyError } from '../../../src/kafka/create-topics.js';

/** An admin whose metadata answers come from `answers`, one per call (the last one repeats). */
function fakeAdmin(answers: (Error | number[])[]): { admin: Admin; calls: () => number } {
  let calls = 0;
  const admin = {
    createTopics: async () => true,
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
      const answer = answers[Math.min(calls++, answers.length - 1)]!;
      if (answer instanceof Error) throw answer;
      return { topics: topics.map((name) => ({ name, partitions: answer.map((leader, partitionId) => ({ partitionId, leader })) })) };
    },
  } as unknown as Admin;
  return { admin, calls: () => calls };
}

const unknownTopic = Object.assign(new Error('This server does not host this topic-partition'), { retriable: true });

describe('createTopicsAndWait', () => {
  it('waits through "unknown topic" and leaderless answers until every partition has a leader', async () => {
    const { admin, calls } = fakeAdmin([unknownTopic, [-1, 0], [0, 1]]);
    await createTopicsAndWait(admin, [{ topic: 't', numPartitions: 2 }]);
    expect(calls()).toBe(3);
  });

  it('gives up at once on an error that retrying cannot fix', async () => {
    const { admin } = fakeAdmin([Object.assign(new Error('not authorized'), { retriable: false })]);
    await expect(createTopicsAndWait(admin, [{ topic: 't' }])).rejects.toThrow('not authorized');
  });

  it('says which topics have no leader when time runs out', async () => {
    const { admin } = fakeAdmin([[-1]]);
    const error = await createTopicsAndWait(admin, [{ topic: 'slow' }], 250).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TopicsNotReadyError);
    expect((error as Error).message).toMatch(/slow have no leader/);
  });
});
