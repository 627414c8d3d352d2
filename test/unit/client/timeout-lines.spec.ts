import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutLines } from '../../../src/client/timeout-lines.js';

interface Item {
  id: number;
  timeoutMs: number;
  dueAt: number;
}

beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
afterEach(() => void vi.useRealTimers());

describe('timeout lines', () => {
  it('expires exactly the items still waiting, each once, at its own time, whatever the lengths and answers', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), timeoutMs: fc.constantFrom(5, 50, 500) }),
      fc.record({ kind: fc.constant('answer' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 200 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), (steps) => {
        vi.setSystemTime(0);
        const waiting = new Map<number, Item>();
        const expired: { id: number; at: number; dueAt: number }[] = [];
        const lines = new TimeoutLines<Item>(
          (item) => waiting.get(item.id) === item,
          (item) => {
            waiting.delete(item.id);
            expired.push({ id: item.id, at: performance.now(), dueAt: item.dueAt });
          },
        );
        const answered = new Set<number>();
        let next = 0;
        for (const s of steps) {
          if (s.kind === 'add') {
            const item = { id: next++, timeoutMs: s.timeoutMs, dueAt: performance.now() + s.timeoutMs };
            waiting.set(item.id, item);
            lines.add(item);
          } else if (s.kind === 'answer') {
            const ids = [...waiting.keys()];
            if (ids.length === 0) continue;
            const item = waiting.get(ids[s.pick % ids.length]!)!;
            waiting.delete(item.id);
            answered.add(item.id);
            lines.settled(item);
          } else vi.advanceTimersByTime(s.ms);
        }
        const stillWaiting = new Set(waiting.keys());
        vi.advanceTimersByTime(1_000);
        expect(waiting.size).toBe(0);
        const ids = expired.map((e) => e.id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const id of ids) expect(answered.has(id)).toBe(false);
        for (const id of stillWaiting) expect(ids).toContain(id);
        expect(ids.length + answered.size).toBe(next);
        for (const e of expired) expect(e.at).toBe(e.dueAt);
      }),
    );
  });

  it('does not keep answered items without bound', () => {
    vi.setSystemTime(0);
    const waiting = new Set<Item>();
    const lines = new TimeoutLines<Item>((item) => waiting.has(item), () => undefined);
    const held = (): number => (lines as unknown as { lines: Map<number, { items: Item[]; head: number }> }).lines.get(1_000)!.items.length;
    for (let id = 0; id < 100_000; id++) {
      const item = { id, timeoutMs: 1_000, dueAt: performance.now() + 1_000 };
      lines.add(item);
      lines.settled(item);
    }
    expect(held()).toBeLessThanOrEqual(2_048);
    lines.clear();
    expect(vi.getTimerCount()).toBe(0);
  });
});
