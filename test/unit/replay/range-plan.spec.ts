import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import type { JournalRecord } from '../../../src/replay/journal.js';
import { planReplay, type JournalEntry } from '../../../src/replay/plan.js';
import { parseBound, withinRange } from '../../../src/replay/range.js';

describe('range bounds', () => {
  it('tell offsets, epoch milliseconds and ISO times apart', () => {
    expect(parseBound('42', '--from')).toEqual({ kind: 'offset', offset: 42n });
    expect(parseBound('1764000000000', '--from')).toEqual({ kind: 'time', ms: 1_764_000_000_000 });
    expect(parseBound('2025-11-27T10:00:00Z', '--to')).toEqual({ kind: 'time', ms: Date.parse('2025-11-27T10:00:00Z') });
    expect(() => parseBound('yesterday', '--to')).toThrow(ConfigError);
  });

  it('bound entries inclusively, open where absent', () => {
    expect(withinRange(5n, 100, { kind: 'offset', offset: 5n }, { kind: 'time', ms: 100 })).toBe(true);
    expect(withinRange(4n, 100, { kind: 'offset', offset: 5n }, undefined)).toBe(false);
    expect(withinRange(9n, 101, undefined, { kind: 'time', ms: 100 })).toBe(false);
  });
});

const entries = (records: JournalRecord[]): JournalEntry[] => records.map((record, i) => ({ offset: String(i), record }));
const started = (instance: string, atMs: number): JournalRecord => ({ type: 'started', instance, atMs, tickMs: 100, queuePolicy: {}, scheduler: {} });
const input = (instance: string, seq: number, atMs: number): JournalRecord => ({ type: 'input', instance, seq, atMs, ref: `tick:${atMs}` });

describe('planReplay', () => {
  const journal = entries([
    started('a', 0), input('a', 0, 10), input('a', 1, 20),
    started('b', 25), input('b', 0, 30), input('a', 2, 40), input('b', 1, 50), input('a', 3, 60),
  ]);

  it('re-drives each process with a turn in range from its start, and compares only within the range', () => {
    const plan = planReplay(journal, { kind: 'time', ms: 35 }, { kind: 'time', ms: 45 });
    expect(plan.window).toEqual({ fromMs: 40, toMs: 40 });
    expect(plan.instances.map((i) => i.started.instance)).toEqual(['a']);
    expect(plan.instances[0]!.turns.map((t) => t.atMs)).toEqual([10, 20, 40]);
    expect(plan.instances[0]!.inRange).toBe(1);
  });

  it('takes offsets as journal positions', () => {
    const plan = planReplay(journal, { kind: 'offset', offset: 4n }, { kind: 'offset', offset: 6n });
    expect(plan.window).toEqual({ fromMs: 30, toMs: 50 });
    expect(plan.instances.map((i) => [i.started.instance, i.inRange])).toEqual([['b', 2], ['a', 1]]);
  });

  it('has nothing to do for an empty range', () => {
    expect(planReplay(journal, { kind: 'time', ms: 1_000 }).window).toBeNull();
  });

  it('refuses a range whose process started before the journal begins', () => {
    expect(() => planReplay(entries([input('gone', 5, 10)]))).toThrow(/not its start/);
  });
});
