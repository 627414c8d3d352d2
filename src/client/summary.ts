/** What a load run adds up to, per SLO class: counts, latency percentiles and SLO attainment. */
import { quantileSorted } from 'simple-statistics';

export interface Outcome {
  sloClass: string;
  status: 'OK' | 'REJECTED' | 'FAILED' | 'TIMEOUT';
  latencyMs: number;
  /** Completed by its deadline. */
  inTime: boolean;
  /** Why it was rejected or failed. */
  reason?: string;
}

export interface ClassSummary {
  sloClass: string;
  sent: number;
  ok: number;
  rejected: number;
  failed: number;
  timedOut: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Share of sent requests answered OK within their deadline. */
  attainment: number;
}

export function summarise(outcomes: readonly Outcome[]): ClassSummary[] {
  const byClass = new Map<string, Outcome[]>();
  for (const o of outcomes) byClass.set(o.sloClass, [...(byClass.get(o.sloClass) ?? []), o]);
  return [...byClass.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([sloClass, list]) => {
      const ok = list.filter((o) => o.status === 'OK');
      const latencies = ok.map((o) => o.latencyMs).sort((a, b) => a - b);
      const q = (p: number): number => (latencies.length ? quantileSorted(latencies, p) : NaN);
      return {
        sloClass,
        sent: list.length,
        ok: ok.length,
        rejected: list.filter((o) => o.status === 'REJECTED').length,
        failed: list.filter((o) => o.status === 'FAILED').length,
        timedOut: list.filter((o) => o.status === 'TIMEOUT').length,
        p50Ms: q(0.5),
        p95Ms: q(0.95),
        p99Ms: q(0.99),
        attainment: list.length ? ok.filter((o) => o.inTime).length / list.length : NaN,
      };
    });
}

/** The most frequent rejection and failure reasons, numbers blurred so that alike reasons count together. */
export function topReasons(outcomes: readonly Outcome[], limit = 3): { reason: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const o of outcomes) {
    if (!o.reason) continue;
    const key = o.reason.replace(/\d+(\.\d+)?/g, 'N');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count).slice(0, limit);
}

export function formatSummary(rows: readonly ClassSummary[]): string[] {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const header = ['class', 'sent', 'ok', 'rejected', 'failed', 'timeout', 'p50 ms', 'p95 ms', 'p99 ms', 'SLO met'];
  const body = rows.map((r) => [r.sloClass, r.sent, r.ok, r.rejected, r.failed, r.timedOut, f(r.p50Ms), f(r.p95Ms), f(r.p99Ms), Number.isFinite(r.attainment) ? `${(r.attainment * 100).toFixed(1)}%` : '-'].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
}
