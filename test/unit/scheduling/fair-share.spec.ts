import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INITIAL_FAIR_SHARE, weightedFairShare, type FairShareState, type QueuedRequest } from '../../../src/processors/scheduling/fair-share.js';
import { tenantTable } from '../../../src/processors/scheduling/tenants.js';

function request(tenant: string, i: number, opts: Partial<QueuedRequest> = {}): QueuedRequest {
  return { requestId: `${tenant}-${i}`, tenant, sloClass: 'interactive', deadlineMs: 1000 + i, submittedAtMs: i, ...opts };
}

describe('weighted fair share (queue discipline)', () => {
  it('picks everything when everything fits', () => {
    const draw = weightedFairShare(tenantTable({ a: { weight: 3 } }));
    const queue = [request('a', 0), request('b', 0), request('b', 1)];
    expect(draw(INITIAL_FAIR_SHARE, queue, 8).picked).toHaveLength(3);
  });

  it('serves SLO classes strictly by urgency, earliest deadline first inside a tenant', () => {
    const draw = weightedFairShare(tenantTable());
    const queue = [
      request('a', 1, { sloClass: 'batch', deadlineMs: 1 }),
      request('a', 2, { sloClass: 'realtime', deadlineMs: 900 }),
      request('a', 3, { sloClass: 'realtime', deadlineMs: 500 }),
      request('a', 4, { sloClass: 'interactive', deadlineMs: 10 }),
    ];
    expect(draw(INITIAL_FAIR_SHARE, queue, 3).picked.map((r) => r.requestId)).toEqual(['a-3', 'a-2', 'a-4']);
  });

  it('under saturation a tenant with weight 3 gets three times the share of a tenant with weight 1', () => {
    const draw = weightedFairShare(tenantTable({ gold: { weight: 3 }, free: { weight: 1 } }));
    let state: FairShareState = INITIAL_FAIR_SHARE;
    const counts = { gold: 0, free: 0 };
    for (let round = 0; round < 100; round++) {
      const queue = [...Array.from({ length: 20 }, (_, i) => request('gold', i)), ...Array.from({ length: 20 }, (_, i) => request('free', i))];
      const r = draw(state, queue, 4);
      state = r.state;
      for (const p of r.picked) counts[p.tenant as 'gold' | 'free'] += 1;
    }
    expect(counts).toEqual({ gold: 300, free: 100 });
  });

  it('the state carries credit across draws so small batches stay fair', () => {
    const draw = weightedFairShare(tenantTable({ a: { weight: 1.5 }, b: { weight: 1 } }));
    let state: FairShareState = INITIAL_FAIR_SHARE;
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let round = 0; round < 500; round++) {
      const r = draw(state, [request('a', round), request('a', round + 1), request('b', round), request('b', round + 1)], 1);
      state = r.state;
      const tenant = (r.picked[0] as QueuedRequest).tenant;
      counts[tenant] = (counts[tenant] ?? 0) + 1;
    }
    expect(counts.a).toBe(300);
    expect(counts.b).toBe(200);
  });

  it('property: backlogged tenants get shares within 10% of their weights', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 2, maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 50, maxLength: 120 }),
        fc.constantFrom('realtime', 'interactive', 'batch'),
        (weights, batchSizes, sloClass) => {
          const names = weights.map((_, i) => `t${i}`);
          const draw = weightedFairShare(tenantTable(Object.fromEntries(names.map((n, i) => [n, { weight: weights[i] as number }]))));
          let state: FairShareState = INITIAL_FAIR_SHARE;
          const counts = new Map(names.map((n) => [n, 0]));
          let seq = 0;
          for (const size of batchSizes) {
            // Saturation: every tenant always has more waiting than a batch can take.
            const queue = names.flatMap((n) => Array.from({ length: 17 }, () => request(n, seq++, { sloClass })));
            const r = draw(state, queue, size);
            expect(r.picked).toHaveLength(size);
            state = r.state;
            for (const p of r.picked) counts.set(p.tenant, (counts.get(p.tenant) as number) + 1);
          }
          const total = batchSizes.reduce((a, b) => a + b, 0);
          const weightSum = weights.reduce((a, b) => a + b, 0);
          names.forEach((n, i) => {
            const expected = (total * (weights[i] as number)) / weightSum;
            expect(Math.abs((counts.get(n) as number) - expected)).toBeLessThanOrEqual(0.1 * expected + 1e-9);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('returns the caller objects it was given, each at most once', () => {
    const draw = weightedFairShare(tenantTable());
    const queue = [request('a', 0), request('b', 0), request('a', 1)];
    const { picked } = draw(INITIAL_FAIR_SHARE, queue, 2);
    for (const p of picked) expect(queue).toContain(p);
    expect(new Set(picked).size).toBe(picked.length);
  });
});
