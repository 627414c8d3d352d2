/**
 * Per-tenant, per-class service levels from inference.results (`tenant/<tenant>/<class>`):
 * totals by status, how many met their deadline (attainment), and end-to-end latency
 * percentiles over a sliding window of the most recent OK results. The window is ordered by
 * completion time (then request id), not by arrival at the projector, so it is the same in a
 * live run and in a rebuild.
 */
import type { ProjectedResult } from './events.js';
import { NO_CHANGES, type Doc, type Projection } from './projection.js';

/** Results kept for percentiles, per tenant and class. */
export const SLA_WINDOW = 256;

export interface SlaDoc extends Doc {
  tenant: string;
  sloClass: string;
  total: number;
  ok: number;
  rejected: number;
  failed: number;
  /** OK and completed by the deadline. */
  met: number;
  latencySumUs: number;
  /** [completedAtMs, requestId, latencyUs], ascending, at most SLA_WINDOW. */
  recent: [number, string, number][];
  p50Us: number;
  p95Us: number;
  p99Us: number;
  attainment: number;
}

/** End-to-end latency as the result accounts for it: queue, batch, transfer and compute. */
export const latencyUs = (r: ProjectedResult): number => r.latency.queueUs + r.latency.batchUs + r.latency.transferUs + r.latency.computeUs;

const before = (a: [number, string, number], b: [number, string, number]): boolean =>
  a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2])));

/** Inserts in order and drops the oldest beyond the window. */
function admit(recent: readonly [number, string, number][], entry: [number, string, number]): [number, string, number][] {
  if (recent.length >= SLA_WINDOW && !before(recent[0]!, entry)) return recent as [number, string, number][];
  let i = recent.length;
  while (i > 0 && before(entry, recent[i - 1]!)) i--;
  const next = [...recent.slice(0, i), entry, ...recent.slice(i)];
  return next.length > SLA_WINDOW ? next.slice(next.length - SLA_WINDOW) : next;
}

/** Nearest-rank percentile of unsorted values (0 when empty). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export const tenantSlaProjection: Projection<SlaDoc> = {
  name: 'tenant-sla',
  version: 1,
  canHandle: (e) => e.kind === 'result',
  handle(state, e) {
    if (e.kind !== 'result') return NO_CHANGES;
    const r = e.value;
    const id = `tenant/${r.tenant}/${r.sloClass}`;
    const doc: SlaDoc = state.get(id) ?? { tenant: r.tenant, sloClass: r.sloClass, total: 0, ok: 0, rejected: 0, failed: 0, met: 0, latencySumUs: 0, recent: [], p50Us: 0, p95Us: 0, p99Us: 0, attainment: 0 };
    const ok = r.status === 'OK';
    const lat = latencyUs(r);
    const recent = ok ? admit(doc.recent, [r.completedAtMs, r.requestId, lat]) : doc.recent;
    const window = recent.map((x) => x[2]);
    const total = doc.total + 1;
    const met = doc.met + (ok && r.completedAtMs <= r.deadlineMs ? 1 : 0);
    return {
      [id]: {
        ...doc,
        total,
        ok: doc.ok + (ok ? 1 : 0),
        rejected: doc.rejected + (r.status === 'REJECTED' ? 1 : 0),
        failed: doc.failed + (r.status === 'FAILED' ? 1 : 0),
        met,
        latencySumUs: doc.latencySumUs + (ok ? lat : 0),
        recent,
        p50Us: percentile(window, 50),
        p95Us: percentile(window, 95),
        p99Us: percentile(window, 99),
        attainment: met / total,
      },
    };
  },
};
