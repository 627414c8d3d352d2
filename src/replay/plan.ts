/**
 * Which journal entries a replay of [from, to] must re-drive. A dispatcher's state at `from` is
 * whatever its turns since its start made it, so each process with a turn in the range is
 * re-driven from its `started` record; decisions are compared only inside the range's window of
 * logical time (the first to the last turn in the range), where the recorded ones are read too.
 */
import { ConfigError } from '../domain/errors.js';
import type { JournalRecord, JournalStarted, JournalTurn } from './journal.js';
import { withinRange, type Bound } from './range.js';

export interface JournalEntry {
  offset: string;
  record: JournalRecord;
}

export interface InstancePlan {
  started: JournalStarted;
  /** Its turns from its start through its last turn in the range, in journal order. */
  turns: JournalTurn[];
  /** How many of `turns` lie in the range. */
  inRange: number;
}

export interface ReplayPlan {
  instances: InstancePlan[];
  /** Logical time window compared; null when the range holds no turn. */
  window: { fromMs: number; toMs: number } | null;
}

export function planReplay(entries: readonly JournalEntry[], from?: Bound, to?: Bound): ReplayPlan {
  const started = new Map<string, JournalStarted>();
  const plans = new Map<string, InstancePlan>();
  const all = new Map<string, JournalTurn[]>();
  let fromMs = Infinity;
  let toMs = -Infinity;
  for (const { offset, record } of entries) {
    if (record.type === 'started') {
      started.set(record.instance, record);
      all.set(record.instance, []);
      continue;
    }
    const turns = all.get(record.instance);
    // Turns of a process whose start is older than the journal's retention cannot be re-driven.
    if (turns === undefined) {
      if (withinRange(BigInt(offset), record.atMs, from, to)) {
        throw new ConfigError(`the journal holds turns of dispatcher ${record.instance} in the range but not its start (offset ${offset}); choose a range after its start`);
      }
      continue;
    }
    turns.push(record);
    if (!withinRange(BigInt(offset), record.atMs, from, to)) continue;
    fromMs = Math.min(fromMs, record.atMs);
    toMs = Math.max(toMs, record.atMs);
    let plan = plans.get(record.instance);
    if (!plan) plans.set(record.instance, (plan = { started: started.get(record.instance)!, turns, inRange: 0 }));
    plan.inRange++;
  }
  const instances = [...plans.values()].map((p) => {
    // Turns after the last one in the range cannot change what was decided inside it.
    let last = p.turns.length - 1;
    while (last >= 0 && !withinRange(0n, p.turns[last]!.atMs, undefined, { kind: 'time', ms: toMs })) last--;
    return { ...p, turns: p.turns.slice(0, last + 1) };
  });
  return { instances, window: instances.length > 0 ? { fromMs, toMs } : null };
}
