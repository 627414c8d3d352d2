import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TimingWheel } from '../../../src/processors/batching/timing-wheel.js';

const fired = <T>(wheel: TimingWheel<T>, nowMs: number): Array<[T, number]> => {
  const out: Array<[T, number]> = [];
  wheel.advanceTo(nowMs, (value, atMs) => out.push([value, atMs]));
  return out;
};

describe('TimingWheel', () => {
  it('fires a timer at its time, never before', () => {
    const wheel = new TimingWheel<string>({ startMs: 1000 });
    wheel.schedule(1005, 'a');
    expect(fired(wheel, 1004)).toEqual([]);
    expect(fired(wheel, 1005)).toEqual([['a', 1005]]);
    expect(wheel.size).toBe(0);
  });

  it('rounds a fractional time up to the next tick, so it never fires early', () => {
    const wheel = new TimingWheel<string>({ startMs: 0, tickMs: 10 });
    wheel.schedule(21, 'a');
    expect(fired(wheel, 29)).toEqual([]);
    expect(fired(wheel, 30)).toEqual([['a', 21]]);
  });

  it('cancels a pending timer, and a second cancel or a cancel after firing is a no-op', () => {
    const wheel = new TimingWheel<string>({ startMs: 0 });
    const a = wheel.schedule(10, 'a');
    const b = wheel.schedule(10, 'b');
    expect(wheel.cancel(a)).toBe(true);
    expect(wheel.cancel(a)).toBe(false);
    expect(fired(wheel, 10)).toEqual([['b', 10]]);
    expect(wheel.cancel(b)).toBe(false);
    expect(wheel.cancel(-1)).toBe(false);
    expect(wheel.cancel(123456789)).toBe(false);
  });

  it('does not let a stale handle cancel a timer that reused its slot', () => {
    const wheel = new TimingWheel<string>({ startMs: 0 });
    const a = wheel.schedule(5, 'a');
    wheel.cancel(a);
    const b = wheel.schedule(7, 'b');
    expect(wheel.cancel(a)).toBe(false);
    expect(fired(wheel, 7)).toEqual([['b', 7]]);
    expect(b).not.toBe(a);
  });

  it('cascades from coarse levels down to the exact tick', () => {
    const wheel = new TimingWheel<number>({ startMs: 0 });
    // 64 ticks per level-0 span, 4096 per level-1 span: these sit on levels 0, 1, 2 and 3.
    const times = [63, 64, 65, 4095, 4096, 4097, 262_143, 262_144, 300_000, 16_777_216 + 3];
    for (const t of times) wheel.schedule(t, t);
    for (const t of times) {
      expect(fired(wheel, t - 1)).toEqual([]);
      expect(fired(wheel, t)).toEqual([[t, t]]);
    }
    expect(wheel.size).toBe(0);
  });

  it('fires many timers of one tick in the order they were scheduled', () => {
    const wheel = new TimingWheel<number>({ startMs: 0 });
    for (let i = 0; i < 10_000; i++) wheel.schedule(5000, i);
    const out = fired(wheel, 6000).map(([v]) => v);
    expect(out).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  it('holds a far-future timer (days away) without firing it early', () => {
    const wheel = new TimingWheel<string>({ startMs: 1_700_000_000_000 });
    const day = 86_400_000;
    wheel.schedule(1_700_000_000_000 + 3 * day, 'far');
    wheel.schedule(1_700_000_000_000 + 10, 'near');
    expect(fired(wheel, 1_700_000_000_000 + day)).toEqual([['near', 1_700_000_000_010]]);
    expect(wheel.nextExpiryMs()).toBe(1_700_000_000_000 + 3 * day);
    expect(fired(wheel, 1_700_000_000_000 + 3 * day - 1)).toEqual([]);
    expect(fired(wheel, 1_700_000_000_000 + 3 * day)).toHaveLength(1);
  });

  it('fires a timer scheduled in the past on the next advance', () => {
    const wheel = new TimingWheel<string>({ startMs: 0 });
    wheel.advanceTo(100, () => undefined);
    wheel.schedule(50, 'late');
    expect(wheel.nextExpiryMs()).toBe(100);
    expect(fired(wheel, 100)).toEqual([['late', 50]]);
  });

  it('tells the earliest expiry exactly while nothing was cancelled', () => {
    const wheel = new TimingWheel<string>({ startMs: 0 });
    expect(wheel.nextExpiryMs()).toBeUndefined();
    wheel.schedule(5000, 'b');
    wheel.schedule(4200, 'a');
    expect(wheel.nextExpiryMs()).toBe(4200);
    wheel.schedule(70, 'c');
    expect(wheel.nextExpiryMs()).toBe(70);
  });

  it('lets a visitor cancel and schedule timers while expiring', () => {
    const wheel = new TimingWheel<string>({ startMs: 0 });
    const ids = new Map<string, number>();
    ids.set('a', wheel.schedule(10, 'a'));
    ids.set('b', wheel.schedule(10, 'b'));
    ids.set('c', wheel.schedule(10, 'c'));
    const seen: string[] = [];
    wheel.advanceTo(20, (v) => {
      seen.push(v);
      if (v === 'a') {
        wheel.cancel(ids.get('b')!);
        wheel.schedule(15, 'd');
      }
    });
    expect(seen).toEqual(['a', 'c', 'd']);
  });

  it('agrees with a reference model on random schedules, cancels and advances', () => {
    type Op = { kind: 'schedule'; delay: number } | { kind: 'cancel'; pick: number } | { kind: 'advance'; by: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('schedule' as const), delay: fc.oneof(fc.integer({ min: -5, max: 100 }), fc.integer({ min: 0, max: 5_000_000 })) }),
      fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('advance' as const), by: fc.oneof(fc.integer({ min: 0, max: 70 }), fc.integer({ min: 0, max: 1_000_000 })) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.integer({ min: 1, max: 7 }), (ops, tickMs) => {
        const wheel = new TimingWheel<number>({ startMs: 0, tickMs });
        const pending = new Map<number, { id: number; atMs: number }>();
        let now = 0;
        let n = 0;
        for (const o of ops) {
          if (o.kind === 'schedule') {
            const atMs = now + o.delay;
            pending.set(n, { id: wheel.schedule(atMs, n), atMs });
            n++;
          } else if (o.kind === 'cancel') {
            const keys = [...pending.keys()];
            if (keys.length === 0) continue;
            const key = keys[o.pick % keys.length]!;
            expect(wheel.cancel(pending.get(key)!.id)).toBe(true);
            pending.delete(key);
          } else {
            now += o.by;
            // Due once the current tick reaches the timer's tick (its time rounded up to a tick).
            const due = [...pending.entries()].filter(([, t]) => Math.ceil(t.atMs / tickMs) <= Math.floor(now / tickMs));
            const got = fired(wheel, now).map(([v]) => v).sort((a, b) => a - b);
            expect(got).toEqual(due.map(([k]) => k).sort((a, b) => a - b));
            for (const [k] of due) pending.delete(k);
            const next = wheel.nextExpiryMs();
            if (pending.size === 0) expect(next).toBeUndefined();
            else expect(next).toBeLessThanOrEqual(Math.min(...[...pending.values()].map((t) => Math.ceil(t.atMs / tickMs) * tickMs)));
          }
          expect(wheel.size).toBe(pending.size);
        }
      }),
      { numRuns: 300 },
    );
  });
});
