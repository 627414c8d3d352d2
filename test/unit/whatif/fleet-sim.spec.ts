import { describe, expect, it } from 'vitest';
import { simulate, type SimulationInput, type SimWorker } from '../../../src/whatif/fleet-sim.js';
import type { ServiceFit } from '../../../src/whatif/latency-fit.js';
import { heartbeat, MANIFEST, request } from '../replay/fixtures.js';

const FIT: ServiceFit = { model: 'm', interceptMs: 10, perSampleMs: 2, samples: 10, r2: 1, flat: false };
const worker = (id: string, slots: number, aliveToMs = Infinity): SimWorker => ({ workerId: id, devices: heartbeat(id, 0, slots).devices, slots, aliveFromMs: 0, aliveToMs });

/** 100 requests/s for 3 s, deadlines of 400 ms: 12 ms per unbatched request on one slot is too slow. */
function input(overrides: Partial<SimulationInput> = {}): SimulationInput {
  const requests = Array.from({ length: 300 }, (_, i) => ({ atMs: i * 10, request: request(i, i * 10, 'interactive', 400) }));
  return {
    startMs: 0, endMs: 5_000, manifests: [{ ...MANIFEST, maxBatchSize: 1 }], requests, workers: [worker('w1', 1)],
    fits: new Map([['m', FIT]]), fallbackFit: FIT, dispatchMs: 1, returnMs: 1, heartbeatMs: 500, tickMs: 100, queuePolicy: {}, scheduler: {},
    ...overrides,
  };
}

const inTime = (r: ReturnType<typeof simulate>): number => r.outcomes.filter((o) => o.inTime).length / r.outcomes.length;

describe('fleet simulation', () => {
  it('answers every request once, deterministically', () => {
    const a = simulate(input());
    expect(a.outcomes).toHaveLength(300);
    expect(new Set(a.outcomes.map((o) => o.requestId)).size).toBe(300);
    expect(simulate(input())).toEqual(a);
  });

  it('an overloaded fleet misses deadlines; batching or more slots fix it', () => {
    const base = simulate(input());
    expect(Math.max(...base.batchSizes)).toBe(1);
    expect(inTime(base)).toBeLessThan(0.95);
    const batched = simulate(input({ manifests: [{ ...MANIFEST, maxBatchSize: 16 }] }));
    expect(Math.max(...batched.batchSizes)).toBeGreaterThan(1);
    expect(inTime(batched)).toBeGreaterThan(0.99);
    const wider = simulate(input({ workers: [worker('w1', 1), worker('w2', 1)] }));
    expect(inTime(wider)).toBeGreaterThan(inTime(base));
  });

  it('a model retired within the range is refused from then on, as the recorded dispatcher refused it', () => {
    const r = simulate(input({ manifests: [{ ...MANIFEST, maxBatchSize: 16 }], retirements: [{ atMs: 1_505, model: MANIFEST.model }] }));
    const arrivedAt = (id: string): number => Number(id.replace(/\D/g, '')) * 10;
    const status = (o: { requestId: string; status: string }) => `${arrivedAt(o.requestId) < 1_505 ? 'before' : 'after'} ${o.status}`;
    const counts = new Map<string, number>();
    for (const o of r.outcomes) counts.set(status(o), (counts.get(status(o)) ?? 0) + 1);
    // Arrivals after the retirement: all 149 refused. Before it: served, but for what still waited in the queue.
    expect(counts.get('after REJECTED')).toBe(149);
    expect(counts.get('after OK')).toBeUndefined();
    expect(counts.get('before OK')).toBeGreaterThan(140);
    expect((counts.get('before OK') ?? 0) + (counts.get('before REJECTED') ?? 0)).toBe(151);
  });

  it('a worker that dies takes its batches with it until the scheduler evicts it', () => {
    const r = simulate(input({ endMs: 10_000, workers: [worker('w1', 1, 1_000), worker('w2', 1)], manifests: [{ ...MANIFEST, maxBatchSize: 16 }] }));
    // Nothing is lost: each request is answered or rejected, none is left open.
    expect(r.outcomes.filter((o) => o.status === 'UNANSWERED')).toHaveLength(0);
    expect(r.outcomes.filter((o) => o.status === 'OK').length).toBeGreaterThan(250);
  });
});
