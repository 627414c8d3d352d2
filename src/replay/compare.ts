/**
 * Compares re-decided decisions with the recorded ones. scheduler.events is keyed (model, or the
 * worker for membership events) and spread over partitions, so publish order survives only per
 * key: each key's sequence is compared in order, and the first difference is the earliest (by
 * logical time) of the keys' first mismatches. Events are compared as canonical JSON (object keys
 * sorted), so encoding round trips that reorder fields do not count as differences.
 */
import type { SchedulerEvent } from '../domain/events/scheduler.js';

export interface RecordedDecision {
  /** Where it was read: 'scheduler.events:partition:offset'. */
  position: string;
  event: SchedulerEvent;
}

export interface Difference {
  key: string;
  /** Index of the decision within its key's sequence. */
  index: number;
  /** The recorded decision's position, or null where the replay decided more than was recorded. */
  position: string | null;
  expected: SchedulerEvent | null;
  got: SchedulerEvent | null;
}

export interface Verification {
  /** Decisions compared (the recorded ones in the range). */
  decisions: number;
  difference: Difference | null;
}

/** The Kafka key the dispatcher publishes a decision under. */
export function decisionKey(event: SchedulerEvent): string {
  return 'model' in event ? event.model : event.workerId;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function byKey<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    let list = groups.get(k);
    if (!list) groups.set(k, (list = []));
    list.push(item);
  }
  return groups;
}

export function verifyDecisions(recorded: readonly RecordedDecision[], redecided: readonly SchedulerEvent[]): Verification {
  const expectedByKey = byKey(recorded, (r) => decisionKey(r.event));
  const gotByKey = byKey(redecided, decisionKey);
  let first: Difference | null = null;
  const timeOf = (d: Difference): number => (d.expected ?? d.got)?.atMs ?? Infinity;
  for (const key of new Set([...expectedByKey.keys(), ...gotByKey.keys()])) {
    const expected = expectedByKey.get(key) ?? [];
    const got = gotByKey.get(key) ?? [];
    for (let i = 0; i < Math.max(expected.length, got.length); i++) {
      const e = expected[i];
      const g = got[i];
      if (e !== undefined && g !== undefined && canonicalJson(e.event) === canonicalJson(g)) continue;
      const difference: Difference = { key, index: i, position: e?.position ?? null, expected: e?.event ?? null, got: g ?? null };
      if (first === null || timeOf(difference) < timeOf(first)) first = difference;
      break;
    }
  }
  return { decisions: recorded.length, difference: first };
}
