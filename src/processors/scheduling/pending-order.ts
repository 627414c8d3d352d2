import type { QueuedBatch } from './records.js';
import { classRank } from './tenants.js';

/**
 * Order of the pending queue: the batch holding the most urgent SLO class first, earliest
 * deadline first inside a class (EDF), then by id so that the order is total.
 */
export function pendingCompare(a: QueuedBatch, b: QueuedBatch): number {
  const ra = urgency(a);
  const rb = urgency(b);
  if (ra.rank !== rb.rank) return ra.rank - rb.rank;
  if (ra.deadlineMs !== rb.deadlineMs) return ra.deadlineMs - rb.deadlineMs;
  return a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : 0;
}

function urgency(batch: QueuedBatch): { rank: number; deadlineMs: number } {
  let rank = Infinity;
  let deadlineMs = Infinity;
  for (const m of batch.members) {
    const r = classRank(m.sloClass);
    if (r < rank || (r === rank && m.deadlineMs < deadlineMs)) {
      rank = r;
      deadlineMs = m.deadlineMs;
    }
  }
  return { rank, deadlineMs };
}
