import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ScanDeviceIndex } from '../../../bench/lib/scheduling-naive.js';
import { HeapDeviceIndex, type DeviceKey } from '../../../src/processors/scheduling/placement.js';
import { RequestIndex } from '../../../src/processors/scheduling/request-index.js';
import { SlotHeap } from '../../../src/processors/scheduling/slot-heap.js';
import type { BatchMemberRef } from '../../../src/processors/scheduling/records.js';
import type { DeviceEntry } from '../../../src/processors/scheduling/view.js';

describe('SlotHeap', () => {
  it('walks its slots in key order (either direction, ties by rank) after any upserts and removals, like a sorted copy', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('up', 'up', 'rm'), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 20 })), { maxLength: 400 }),
        fc.integer({ min: 0, max: 50 }),
        fc.boolean(),
        (ops, stopAfter, descending) => {
          // Ranks in reverse slot order, so that ties are not broken by slot number by accident.
          const keys = { value: new Float64Array(201), rank: Float64Array.from({ length: 201 }, (_, i) => 1000 - i) };
          const less = (a: number, b: number): boolean => {
            const [va, vb] = [keys.value[a] as number, keys.value[b] as number];
            if (va !== vb) return descending ? va > vb : va < vb;
            return (keys.rank[a] as number) < (keys.rank[b] as number);
          };
          const heap = new SlotHeap(keys, descending);
          const present = new Set<number>();
          for (const [op, slot, k] of ops) {
            if (op === 'up') {
              keys.value[slot] = k;
              heap.upsert(slot);
              present.add(slot);
            } else {
              heap.remove(slot);
              present.delete(slot);
            }
          }
          const sorted = [...present].sort((a, b) => (less(a, b) ? -1 : 1));
          expect(heap.size).toBe(sorted.length);
          for (const slot of sorted) expect(heap.has(slot)).toBe(true);
          heap.walk();
          const walked: number[] = [];
          for (let s = heap.next(); s >= 0; s = heap.next()) walked.push(s);
          expect(walked).toEqual(sorted);
          // A second walk, stopped early, gives the same prefix.
          heap.walk();
          const prefix: number[] = [];
          for (let s = heap.next(); s >= 0 && prefix.length < stopAfter; s = heap.next()) prefix.push(s);
          expect(prefix).toEqual(sorted.slice(0, stopAfter));
        },
      ),
      { numRuns: 200 },
    );
  });
});

const GiB = 2 ** 30;

/** One key per uuid, as the state keeps one record per device (shared by the heap and the scan). */
function deviceKeys(): (uuid: string) => DeviceKey {
  const keys = new Map<string, DeviceKey>();
  return (uuid) => {
    let key = keys.get(uuid);
    if (key === undefined) keys.set(uuid, (key = { uuid, slot: -1 }));
    return key;
  };
}
type Update = { device: number; eligible: boolean; work: number; roomGiB: number; models: number };
const MODEL_SETS = [[], ['a'], ['b'], ['a', 'b'], ['c', 'a']] as const;

describe('HeapDeviceIndex', () => {
  it('answers every query exactly as a scan of every device, through joins, parking and slot reuse', () => {
    const update = fc.record({
      device: fc.integer({ min: 0, max: 299 }),
      // Mostly not eligible, so that parked slots pile up and are given up and reused.
      eligible: fc.integer({ min: 0, max: 3 }).map((x) => x === 0),
      work: fc.constantFrom(0, 0, 1000, 2000, 5000),
      roomGiB: fc.integer({ min: -2, max: 8 }),
      models: fc.integer({ min: 0, max: MODEL_SETS.length - 1 }),
    });
    // With a cold-load cost the index may leave `any` out (and its cluster-wide heaps fall
    // behind until a query needs them); without one it must answer in full.
    const query = fc.record({
      model: fc.constantFrom('a', 'b', 'c', 'z'),
      needGiB: fc.integer({ min: 0, max: 9 }),
      skipMod: fc.integer({ min: 0, max: 3 }),
      coldUs: fc.constantFrom(undefined, undefined, 1500, 6000),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.array(update, { maxLength: 60 }), query), { maxLength: 30 }), (rounds) => {
        const heap = new HeapDeviceIndex();
        const scan = new ScanDeviceIndex();
        const key = deviceKeys();
        const models = MODEL_SETS.map((m) => [...m]);
        for (const [updates, q] of rounds) {
          for (const u of updates as Update[]) {
            // Device names whose order differs from their numbers, so ties exercise uuid order.
            const uuid = `GPU-${u.device % 7}-${u.device}`;
            const entry: DeviceEntry | null = u.eligible
              ? { uuid, workerId: `w${u.device % 7}`, outstandingUs: u.work, availableBytes: u.roomGiB * GiB, loadedModels: models[u.models] as string[] }
              : null;
            heap.update(key(uuid), entry);
            scan.update(key(uuid), entry);
          }
          const skip = (uuid: string): boolean => q.skipMod > 0 && Number(uuid.split('-')[2]) % 4 === q.skipMod;
          const ours = heap.best(q.model, q.needGiB * GiB, skip, q.coldUs);
          const naive = scan.best(q.model, q.needGiB * GiB, skip);
          expect(ours.loaded?.uuid).toBe(naive.loaded?.uuid);
          if (ours.any === undefined && naive.any !== undefined) {
            // Left out only where no device can beat the warm one by more than a cold load.
            expect(q.coldUs).toBeDefined();
            expect(ours.loaded!.outstandingUs).toBeLessThan(q.coldUs!);
          } else {
            expect(ours.any?.uuid).toBe(naive.any?.uuid);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('gives up parked slots once they outnumber the eligible devices, and still answers like a scan', () => {
    const heap = new HeapDeviceIndex();
    const scan = new ScanDeviceIndex();
    const key = deviceKeys();
    const entry = (i: number, work: number): DeviceEntry => ({ uuid: `d${i}`, workerId: 'w', outstandingUs: work, availableBytes: GiB, loadedModels: ['m'] });
    for (let i = 0; i < 500; i++) {
      heap.update(key(`d${i}`), entry(i, i % 3));
      scan.update(key(`d${i}`), entry(i, i % 3));
    }
    for (let i = 0; i < 480; i++) {
      heap.update(key(`d${i}`), null);
      scan.update(key(`d${i}`), null);
    }
    for (let i = 1000; i < 1100; i++) {
      heap.update(key(`d${i}`), entry(i, 0));
      scan.update(key(`d${i}`), entry(i, 0));
    }
    const none = (): boolean => false;
    expect(heap.best('m', GiB, none)).toEqual(scan.best('m', GiB, none));
    expect(heap.best('m', GiB, none).any?.uuid).toBe('d1000');
    // A given-up slot is handed back through its key, so the key cannot reach a reused slot.
    expect(key('d0').slot).toBe(-1);
    expect(key('d1000').slot).toBeGreaterThanOrEqual(0);
    // Devices whose slots were given up come back; the newcomers keep theirs.
    for (let i = 0; i < 100; i++) {
      heap.update(key(`d${i}`), entry(i, i % 2));
      scan.update(key(`d${i}`), entry(i, i % 2));
    }
    for (let i = 1000; i < 1100; i += 7) {
      heap.update(key(`d${i}`), entry(i, 1 + (i % 3)));
      scan.update(key(`d${i}`), entry(i, 1 + (i % 3)));
    }
    const seen = new Set<string>();
    for (let k = 0; k < 120; k++) {
      const skip = (uuid: string): boolean => seen.has(uuid);
      const answer = heap.best('m', GiB, skip);
      expect(answer).toEqual(scan.best('m', GiB, skip));
      if (answer.any) seen.add(answer.any.uuid);
    }
    expect([...seen].slice(0, 4)).toEqual(['d0', 'd10', 'd1001', 'd1002']);
  });
  it('ranks devices joining many at once (merged) and one by one alike: equal work goes in uuid order', () => {
    const heap = new HeapDeviceIndex();
    const key = deviceKeys();
    const entry = (uuid: string): DeviceEntry => ({ uuid, workerId: 'w', outstandingUs: 0, availableBytes: GiB, loadedModels: ['m'] });
    // A fixed shuffle of 1000 names, then a few alone, then another crowd between them.
    const names = Array.from({ length: 1000 }, (_, i) => `d${(i * 617) % 1000}`);
    const rounds = [names, ['d0x'], ['d5x'], ['d999x'], Array.from({ length: 40 }, (_, i) => `d${(i * 13) % 40}y`)];
    const all: string[] = [];
    const none = (): boolean => false;
    for (const round of rounds) {
      for (const uuid of round) heap.update(key(uuid), entry(uuid));
      all.push(...round);
      heap.best('m', GiB, none);
    }
    const seen = new Set<string>();
    const order: string[] = [];
    for (let k = 0; k < 60; k++) {
      const answer = heap.best('m', GiB, (uuid) => seen.has(uuid));
      seen.add(answer.any!.uuid);
      order.push(answer.any!.uuid);
      expect(answer.loaded?.uuid).toBe(answer.any?.uuid);
    }
    expect(order).toEqual([...all].sort().slice(0, 60));
  });
});

describe('RequestIndex', () => {
  it('names the batch holding each request, whether or not it was asked before the batch left', () => {
    const index = new RequestIndex();
    const members = (ids: string[]) => ids.map((requestId) => ({ requestId, tenant: 't', sloClass: 'batch', deadlineMs: 0 }));
    index.hold('b1', members(['r1', 'r2']));
    index.hold('b2', members(['r3']));
    index.release('b2');
    expect(index.batchOf('r3')).toBeUndefined();
    expect(index.batchOf('r1')).toBe('b1');
    index.drop('r1');
    expect(index.batchOf('r1')).toBeUndefined();
    expect(index.batchOf('r2')).toBe('b1');
    index.release('b1');
    expect(index.batchOf('r2')).toBeUndefined();
    index.hold('b1', members(['r2']));
    expect(index.batchOf('r2')).toBe('b1');
  });

  it('answers like a plain request → batch map through holds, requeues with fewer members, drops and lookups', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('hold', 'hold', 'release', 'requeue', 'ask', 'ask', 'drop'), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 6 })), { maxLength: 300 }),
        (ops) => {
          const held = new Map<string, BatchMemberRef[]>();
          const plain = new Map<string, string>();
          const index = new RequestIndex();
          const member = (requestId: string): BatchMemberRef => ({ requestId, tenant: 't', sloClass: 'batch', deadlineMs: 0 });
          let next = 0;
          for (const [op, b, k] of ops) {
            const batchId = `b${b}`;
            const list = held.get(batchId);
            if (op === 'hold' && list === undefined) {
              const fresh = Array.from({ length: k + 1 }, () => member(`r${next++}`));
              held.set(batchId, fresh);
              for (const m of fresh) plain.set(m.requestId, batchId);
              index.hold(batchId, fresh);
            } else if ((op === 'release' || op === 'requeue') && list !== undefined) {
              held.delete(batchId);
              for (const m of list) plain.delete(m.requestId);
              index.release(batchId);
              if (op === 'requeue') {
                // Held again under the same id, keeping only some of its members.
                const kept = list.filter((_, i) => i % (k + 1) !== 0);
                held.set(batchId, kept);
                for (const m of kept) plain.set(m.requestId, batchId);
                index.hold(batchId, kept);
              }
            } else if (op === 'ask' || op === 'drop') {
              const requestId = `r${Math.max(0, next - 1 - 2 * b)}`;
              expect(index.batchOf(requestId)).toBe(plain.get(requestId));
              const owner = plain.get(requestId);
              if (op === 'drop' && owner !== undefined) {
                index.drop(requestId);
                plain.delete(requestId);
                held.set(owner, held.get(owner)!.filter((m) => m.requestId !== requestId));
              }
            }
          }
          for (let r = 0; r < next; r++) expect(index.batchOf(`r${r}`)).toBe(plain.get(`r${r}`));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps answering exactly while its filter grows with many requests held', () => {
    const index = new RequestIndex();
    const member = (requestId: string): BatchMemberRef => ({ requestId, tenant: 't', sloClass: 'batch', deadlineMs: 0 });
    for (let b = 0; b < 6000; b++) {
      index.hold(`b${b}`, [member(`r${b}a`), member(`r${b}b`)]);
      // A lookup per batch indexes it at once: the first 3,000 batches stay (6,000 requests, past
      // the first filter's load), then nine in ten leave again.
      expect(index.batchOf(`x${b}`)).toBeUndefined();
      if (b >= 3000 && b % 10 !== 0) index.release(`b${b}`);
    }
    const kept = (b: number): boolean => b < 3000 || b % 10 === 0;
    for (let b = 0; b < 6000; b++) expect(index.batchOf(`r${b}b`)).toBe(kept(b) ? `b${b}` : undefined);
    for (let b = 0; b < 6000; b++) if (kept(b)) index.release(`b${b}`);
    for (let b = 0; b < 6000; b += 7) expect(index.batchOf(`r${b}a`)).toBeUndefined();
  });
});
