import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SchedulerEvent, WorkerReport } from '../../../src/domain/events/index.js';
import { ValidationError } from '../../../src/domain/errors.js';
import {
  createLedger,
  foldDecision,
  foldReport,
  inFlight,
  ledgerSnapshot,
  pruneFinished,
  releaseBatch,
  restoreLedger,
  statusOf,
  type PartitionLedger,
} from '../../../src/processors/dispatch/partition-ledger.js';

type Item = { kind: 'decision'; event: SchedulerEvent } | { kind: 'report'; report: WorkerReport };

const ctx = (atMs: number) => ({ atMs, inputs: [`t:${atMs}`] });
const formed = (atMs: number, batchId: string, requestIds: string[]): SchedulerEvent => ({ type: 'BatchFormed', ...ctx(atMs), batchId, model: 'm', modelVersion: '1', requestIds, reason: 'FULL' });
const assigned = (atMs: number, batchId: string, workerId: string, workerEpoch: number): SchedulerEvent => ({
  type: 'BatchAssigned', ...ctx(atMs), batchId, model: 'm', workerId, workerEpoch, deviceUuid: `${workerId}-gpu0`, reservedBytes: 100,
});
const done = (timestampMs: number, batchId: string, workerId: string, workerEpoch: number): WorkerReport => ({
  type: 'BatchDone', batchId, model: 'm', modelVersion: '1', workerId, workerEpoch, deviceUuid: `${workerId}-gpu0`, batchSize: 1, serviceTimeUs: 10, transferUs: 0, computeUs: 10, timestampMs,
});
const refused = (timestampMs: number, batchId: string, workerId: string, workerEpoch: number): WorkerReport => ({
  type: 'BatchRefused', batchId, model: 'm', modelVersion: '1', workerId, workerEpoch, reason: 'full', retriable: true, timestampMs,
});

function fold(ledger: PartitionLedger, items: readonly Item[]): PartitionLedger {
  for (const item of items) {
    if (item.kind === 'decision') foldDecision(ledger, item.event);
    else foldReport(ledger, item.report);
  }
  return ledger;
}

describe('partition ledger', () => {
  it('follows a batch from formed to in flight to done, and ignores reports from other incarnations', () => {
    const l = createLedger();
    foldDecision(l, formed(1, 'b1', ['r1', 'r2']));
    expect(statusOf(l, 'r1')).toEqual({ batchId: 'b1', assigned: null });
    foldDecision(l, assigned(2, 'b1', 'w1', 7));
    expect(inFlight(l).map((b) => b.batchId)).toEqual(['b1']);
    foldReport(l, done(3, 'b1', 'w1', 6)); // an older incarnation's: not this assignment
    expect(statusOf(l, 'r2')).toMatchObject({ batchId: 'b1', assigned: { workerId: 'w1', workerEpoch: 7, reservedBytes: 100 } });
    foldReport(l, done(4, 'b1', 'w1', 7));
    expect(statusOf(l, 'r1')).toBe('finished');
    expect(statusOf(l, 'r2')).toBe('finished');
    expect(inFlight(l)).toEqual([]);
    expect(statusOf(l, 'r3')).toBe('unknown');
  });

  it('a refused batch waits again; a requeue keeps only the members it names; a rejection finishes one member', () => {
    const l = createLedger();
    foldDecision(l, formed(1, 'b1', ['r1', 'r2', 'r3']));
    foldDecision(l, assigned(2, 'b1', 'w1', 1));
    foldReport(l, refused(3, 'b1', 'w1', 1));
    expect(statusOf(l, 'r1')).toEqual({ batchId: 'b1', assigned: null });
    foldDecision(l, assigned(4, 'b1', 'w2', 1));
    foldDecision(l, { type: 'RequestRejected', ...ctx(5), requestId: 'r3', model: 'm', tenant: 't', reason: 'late', leavesBatch: true });
    foldDecision(l, { type: 'BatchRequeued', ...ctx(6), batchId: 'b1', model: 'm', requestIds: ['r1'], reason: 'evicted' });
    expect(statusOf(l, 'r1')).toEqual({ batchId: 'b1', assigned: null });
    expect(statusOf(l, 'r2')).toBe('unknown');
    expect(statusOf(l, 'r3')).toBe('finished');
    foldDecision(l, { type: 'BatchCompleted', ...ctx(7), batchId: 'b1', model: 'm', workerId: 'w2', workerEpoch: 1, serviceTimeUs: 1 });
    expect(statusOf(l, 'r1')).toBe('finished');
  });

  it('a request formed again leaves its earlier batch; a released batch waits; pruning forgets old finished requests', () => {
    const l = createLedger();
    foldDecision(l, formed(1, 'b1', ['r1', 'r2']));
    foldDecision(l, assigned(2, 'b1', 'w1', 1));
    releaseBatch(l, 'b1');
    expect(inFlight(l)).toEqual([]);
    foldDecision(l, formed(3, 'b2', ['r1']));
    expect(statusOf(l, 'r1')).toEqual({ batchId: 'b2', assigned: null });
    expect(l.batches.get('b1')?.requestIds).toEqual(['r2']);
    foldDecision(l, formed(4, 'b3', ['r2']));
    expect(l.batches.has('b1')).toBe(false);
    foldDecision(l, { type: 'BatchCompleted', ...ctx(10), batchId: 'b3', model: 'm', workerId: 'w1', workerEpoch: 1, serviceTimeUs: 1 });
    foldDecision(l, { type: 'RequestRejected', ...ctx(100), requestId: 'r1', model: 'm', tenant: 't', reason: 'late', leavesBatch: true });
    pruneFinished(l, 50);
    expect(statusOf(l, 'r2')).toBe('unknown');
    expect(statusOf(l, 'r1')).toBe('finished');
  });

  it('restoring refuses what is not a snapshot, with a typed error', () => {
    expect(() => restoreLedger({ batches: [] })).toThrow(ValidationError);
    expect(() => restoreLedger({ latestMs: 0, batches: [{ model: 'm' }], finished: [] })).toThrow(ValidationError);
  });

  /**
   * Random logs from a model of a partition's life: batches formed from fresh requests, assigned to
   * workers, done or refused (also by stale incarnations), requeued, completed by decision, members
   * rejected, and pending members formed again. The model's own notion of each request's state is
   * the oracle for `statusOf`.
   */
  type Op = { op: 'form' | 'assign' | 'done' | 'stale' | 'refuse' | 'requeue' | 'complete' | 'reject' | 'reform'; pick: number; size: number };
  const op: fc.Arbitrary<Op> = fc.record({
    op: fc.constantFrom('form', 'form', 'assign', 'assign', 'done', 'stale', 'refuse', 'requeue', 'complete', 'reject', 'reform'),
    pick: fc.nat(),
    size: fc.integer({ min: 1, max: 4 }),
  });

  function play(ops: readonly Op[]): { items: Item[]; truth: Map<string, 'finished' | { batchId: string; inFlight: boolean }> } {
    const items: Item[] = [];
    const truth = new Map<string, 'finished' | { batchId: string; inFlight: boolean }>();
    const batches = new Map<string, { members: string[]; on: { w: string; e: number } | null }>();
    let t = 0;
    let nextRequest = 0;
    let nextBatch = 0;
    const pick = <T>(list: T[], n: number): T | undefined => (list.length === 0 ? undefined : list[n % list.length]);
    const open = (flying: boolean | null) => [...batches].filter(([, b]) => flying === null || (b.on !== null) === flying).map(([id]) => id);
    const finish = (id: string): void => {
      for (const r of batches.get(id)!.members) truth.set(r, 'finished');
      batches.delete(id);
    };
    for (const o of ops) {
      t += 1;
      switch (o.op) {
        case 'form': {
          const id = `b${nextBatch++}`;
          const members = Array.from({ length: o.size }, () => `r${nextRequest++}`);
          batches.set(id, { members, on: null });
          for (const r of members) truth.set(r, { batchId: id, inFlight: false });
          items.push({ kind: 'decision', event: formed(t, id, members) });
          break;
        }
        case 'reform': {
          const from = pick(open(false), o.pick);
          if (!from) break;
          const b = batches.get(from)!;
          const moved = b.members.slice(0, o.size);
          b.members = b.members.slice(o.size);
          if (b.members.length === 0) batches.delete(from);
          const id = `b${nextBatch++}`;
          batches.set(id, { members: moved, on: null });
          for (const r of moved) truth.set(r, { batchId: id, inFlight: false });
          items.push({ kind: 'decision', event: formed(t, id, moved) });
          break;
        }
        case 'assign': {
          const id = pick(open(false), o.pick);
          if (!id) break;
          const on = { w: `w${o.pick % 3}`, e: 1 + (o.size % 2) };
          batches.get(id)!.on = on;
          for (const r of batches.get(id)!.members) truth.set(r, { batchId: id, inFlight: true });
          items.push({ kind: 'decision', event: assigned(t, id, on.w, on.e) });
          break;
        }
        case 'done':
        case 'stale':
        case 'refuse': {
          const id = pick(open(true), o.pick);
          if (!id) break;
          const on = batches.get(id)!.on!;
          if (o.op === 'stale') items.push({ kind: 'report', report: done(t, id, on.w, on.e + 10) });
          else if (o.op === 'done') {
            items.push({ kind: 'report', report: done(t, id, on.w, on.e) });
            finish(id);
          } else {
            items.push({ kind: 'report', report: refused(t, id, on.w, on.e) });
            batches.get(id)!.on = null;
            for (const r of batches.get(id)!.members) truth.set(r, { batchId: id, inFlight: false });
          }
          break;
        }
        case 'requeue': {
          const id = pick(open(true), o.pick);
          if (!id) break;
          const b = batches.get(id)!;
          const kept = b.members.slice(0, Math.max(1, b.members.length - 1));
          for (const r of b.members.filter((m) => !kept.includes(m))) truth.delete(r);
          b.members = kept;
          b.on = null;
          for (const r of kept) truth.set(r, { batchId: id, inFlight: false });
          items.push({ kind: 'decision', event: { type: 'BatchRequeued', ...ctx(t), batchId: id, model: 'm', requestIds: kept, reason: 'evicted' } });
          break;
        }
        case 'complete': {
          const id = pick(open(true), o.pick);
          if (!id) break;
          const on = batches.get(id)!.on!;
          items.push({ kind: 'decision', event: { type: 'BatchCompleted', ...ctx(t), batchId: id, model: 'm', workerId: on.w, workerEpoch: on.e, serviceTimeUs: 5 } });
          finish(id);
          break;
        }
        case 'reject': {
          const id = pick(open(null), o.pick);
          if (!id) break;
          const b = batches.get(id)!;
          const r = b.members[o.size % b.members.length]!;
          b.members = b.members.filter((m) => m !== r);
          if (b.members.length === 0) batches.delete(id);
          truth.set(r, 'finished');
          items.push({ kind: 'decision', event: { type: 'RequestRejected', ...ctx(t), requestId: r, model: 'm', tenant: 't', reason: 'late', leavesBatch: true } });
          break;
        }
      }
    }
    return { items, truth };
  }

  it('says for every request what the log made of it (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const { items, truth } = play(ops);
        const l = fold(createLedger(), items);
        for (const [r, expected] of truth) {
          const got = statusOf(l, r);
          if (expected === 'finished') expect(got).toBe('finished');
          else expect(got).toMatchObject({ batchId: expected.batchId, assigned: expected.inFlight ? expect.anything() : null });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a snapshot plus the log after it gives the ledger of the whole log (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.nat(), fc.integer({ min: 1, max: 60 }), (ops, cutAt, retention) => {
        const { items } = play(ops);
        const cut = items.length === 0 ? 0 : cutAt % (items.length + 1);
        const whole = fold(createLedger(), items);
        const head = fold(createLedger(), items.slice(0, cut));
        pruneFinished(head, retention);
        const stored = JSON.parse(JSON.stringify(ledgerSnapshot(head))) as unknown;
        const rebuilt = fold(restoreLedger(stored), items.slice(cut));
        pruneFinished(whole, retention);
        pruneFinished(rebuilt, retention);
        expect(JSON.stringify(ledgerSnapshot(rebuilt))).toBe(JSON.stringify(ledgerSnapshot(whole)));
      }),
      { numRuns: 300 },
    );
  });
});
