import { describe, expect, it } from 'vitest';
import { endOffsetsWith } from '../../../src/kafka/offsets.js';

const notLeader = Object.assign(new Error('This server is not the leader for that topic-partition'), { retriable: true });

describe('endOffsetsWith', () => {
  it('asks again after a retriable answer, and gives the ends', async () => {
    let calls = 0;
    const admin = {
      fetchTopicOffsets: async () => {
        if (++calls < 3) throw notLeader;
        return [{ partition: 0, offset: '7', high: '7', low: '0' }, { partition: 1, offset: '3', high: '3', low: '1' }];
      },
    };
    expect(await endOffsetsWith(admin, 't')).toEqual(new Map([[0, '7'], [1, '3']]));
    expect(calls).toBe(3);
  });

  it('gives up on a retriable answer after five tries, and at once on any other', async () => {
    let calls = 0;
    await expect(endOffsetsWith({ fetchTopicOffsets: async () => (calls++, Promise.reject(notLeader)) }, 't')).rejects.toThrow(/not the leader/);
    expect(calls).toBe(5);
    calls = 0;
    await expect(endOffsetsWith({ fetchTopicOffsets: async () => (calls++, Promise.reject(new Error('unknown topic'))) }, 't')).rejects.toThrow(/unknown topic/);
    expect(calls).toBe(1);
  });
});
