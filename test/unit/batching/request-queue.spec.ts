import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SloClass } from '../../../src/domain/events/request.js';
import type { QueuedRequest } from '../../../src/processors/batching/queued-request.js';
import { RequestQueue, type UndoLog } from '../../../src/processors/batching/request-queue.js';
import { request } from './helpers.js';

const CLASSES: readonly SloClass[] = ['realtime', 'interactive', 'batch'];
const AGING_MS = 10;

type Op =
  | { kind: 'add'; sloClass: number; deadline: number; dt: number }
  | { kind: 'remove'; pick: number }
  | { kind: 'timeout'; pick: number }
  | { kind: 'top'; count: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), sloClass: fc.nat(2), deadline: fc.nat(20), dt: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('timeout' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('top' as const), count: fc.integer({ min: 1, max: 8 }) }) },
);

/** The reference: a plain array, sorted whole on every question. */
function referenceOrder(items: readonly QueuedRequest[]): string[] {
  const tier = (q: QueuedRequest): number => (q.timedOut ? Infinity : CLASSES.indexOf(q.request.sloClass as SloClass) + Math.floor(q.arrivedAtMs / AGING_MS));
  return [...items]
    .sort((a, b) => tier(a) - tier(b) || a.request.deadlineMs - b.request.deadlineMs || a.seq - b.seq)
    .map((q) => q.request.requestId);
}

/** Applies ops to both, checking every answer; with `undo`, each op is also undone and redone. */
function check(ops: readonly Op[], withUndo: boolean): void {
  const queue = new RequestQueue(AGING_MS);
  let model: QueuedRequest[] = [];
  let now = 0;
  let seq = 0;
  const twice = (change: (undo: UndoLog | undefined) => void): void => {
    if (withUndo) {
      const undo: UndoLog = [];
      change(undo);
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
    }
    change(undefined);
  };
  for (const op of ops) {
    if (op.kind === 'add') {
      now += op.dt;
      const q: QueuedRequest = { request: request(`r${seq}`, { sloClass: CLASSES[op.sloClass]!, deadlineMs: now + op.deadline }), seq: seq++, arrivedAtMs: now, timeoutAtMs: Infinity, timedOut: false };
      twice((undo) => queue.add(q, undo));
      model.push(q);
    } else if (op.kind === 'remove' && model.length > 0) {
      const id = model[op.pick % model.length]!.request.requestId;
      twice((undo) => queue.remove(id, undo));
      model = model.filter((q) => q.request.requestId !== id);
    } else if (op.kind === 'timeout' && model.length > 0) {
      const id = model[op.pick % model.length]!.request.requestId;
      twice((undo) => queue.markTimedOut(id, undo));
      model = model.map((q) => (q.request.requestId === id ? { ...q, timedOut: true } : q));
    } else if (op.kind === 'top') {
      expect(queue.mostUrgent(op.count).map((q) => q.request.requestId)).toEqual(referenceOrder(model).slice(0, op.count));
    }
    expect(queue.size).toBe(model.length);
    expect([...queue].map((q) => q.request.requestId)).toEqual(model.map((q) => q.request.requestId));
    const live = model.filter((q) => !q.timedOut).map((q) => q.request.deadlineMs);
    expect(queue.tightestDeadlineMs).toBe(live.length === 0 ? Infinity : Math.min(...live));
    expect(queue.oldestArrivalMs).toBe(model[0]?.arrivedAtMs ?? Infinity);
  }
  expect(queue.mostUrgent(model.length + 1).map((q) => q.request.requestId)).toEqual(referenceOrder(model));
}

describe('request queue', () => {
  it('answers like a sorted array under random arrivals, removals and timeouts', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 150 }), (ops) => check(ops, false)), { numRuns: 200 });
  });

  it('comes back to exactly the same answers after an undo log is rolled back', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 150 }), (ops) => check(ops, true)), { numRuns: 200 });
  });

  it('rolls back a whole run of changes in one undo log, slots reused within it included', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40 }), fc.array(opArb, { maxLength: 40 }), (before, during) => {
        const queue = new RequestQueue(AGING_MS);
        let seq = 0;
        let now = 0;
        const ids: string[] = [];
        const apply = (op: Op, undo: UndoLog | undefined): void => {
          if (op.kind === 'add') {
            now += op.dt;
            const id = `r${seq}`;
            queue.add({ request: request(id, { sloClass: CLASSES[op.sloClass]!, deadlineMs: now + op.deadline }), seq: seq++, arrivedAtMs: now, timeoutAtMs: now + op.deadline, timedOut: false }, undo);
            ids.push(id);
          } else if (op.kind === 'remove' && ids.length > 0) {
            queue.remove(ids[op.pick % ids.length]!, undo);
          } else if (op.kind === 'timeout' && ids.length > 0) {
            queue.markTimedOut(ids[op.pick % ids.length]!, undo);
          }
        };
        for (const op of before) apply(op, undefined);
        const seen = (): unknown => ({ all: [...queue], urgent: queue.mostUrgent(queue.size), deadline: queue.tightestDeadlineMs, oldest: queue.oldestArrivalMs });
        const start = seen();
        const undo: UndoLog = [];
        for (const op of during) apply(op, undo);
        for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
        expect(seen()).toEqual(start);
      }),
      { numRuns: 300 },
    );
  });

  it('drops removed requests from memory as the oldest leave (no unbounded arrival log)', () => {
    const queue = new RequestQueue(Infinity);
    for (let i = 0; i < 100_000; i++) {
      queue.add({ request: request(`r${i}`), seq: i, arrivedAtMs: i, timeoutAtMs: Infinity, timedOut: false });
      if (i >= 10) queue.remove(`r${i - 10}`);
    }
    expect(queue.size).toBe(10);
    expect(queue.oldestArrivalMs).toBe(99_990);
    // Compaction keeps the arrival log within a small multiple of what is queued.
    expect((queue as unknown as { arrivalSlots: Int32Array }).arrivalSlots.length).toBeLessThan(3_000);
  });
});
