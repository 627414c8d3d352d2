import { describe, expect, it } from 'vitest';
import { step } from '../../../src/domain/decider.js';
import { copyState, createBatcher, snapshotOf, type BatcherState } from '../../../src/processors/batching/batcher.js';
import { tenantFairShare } from '../../../src/processors/batching/fair-share-discipline.js';
import type { QueueDiscipline } from '../../../src/processors/batching/queue-discipline.js';
import { tenantTable } from '../../../src/processors/scheduling/tenants.js';
import { arrived, capacity, prepared, request } from './helpers.js';

describe('tenant fair share as the queue discipline', () => {
  it('splits saturated batches between tenants by weight, and replays the same', () => {
    const discipline = tenantFairShare(tenantTable({ a: { weight: 3 }, b: { weight: 1 } })) as QueueDiscipline<unknown>;
    const batcher = createBatcher({ discipline });
    let state: BatcherState = prepared(batcher, { manifest: { maxBatchSize: 4 } });
    const start = copyState(state);
    const events = [];
    // Both tenants keep 40 requests waiting: far more than the batches take.
    for (let i = 0; i < 40; i++) {
      for (const tenant of ['a', 'b']) {
        const r = step(batcher, state, arrived(request(`${tenant}${i}`, { tenant })), 1);
        state = r.state;
        events.push(...r.events);
      }
    }
    const counts = { a: 0, b: 0 };
    for (let k = 0; k < 8; k++) {
      const r = step(batcher, state, capacity(1), 2 + k);
      state = r.state;
      events.push(...r.events);
      for (const e of r.events) if (e.type === 'BatchFormed') for (const id of e.requestIds) counts[id[0] as 'a' | 'b']++;
    }
    // 8 batches of 4 = 32 requests, 3:1.
    expect(counts).toEqual({ a: 24, b: 8 });
    expect(snapshotOf(events.reduce(batcher.evolve, start))).toEqual(snapshotOf(state));
  });
});
