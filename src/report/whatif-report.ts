/**
 * The what-if report: one self-contained HTML page with a summary table and inline SVG plots
 * (latency CDF per SLO class, batch sizes, SLO attainment), each drawing the recorded run, the
 * simulated baseline and the simulated alternative.
 */
import type { Scenario, WhatIfResult } from '../whatif/whatif.js';
import { attainment } from '../whatif/whatif.js';
import { barChart, escapeXml, stepChart } from './svg.js';

const COLORS = ['#7f7f7f', '#1f77b4', '#d62728'];

/** Points of the empirical CDF of OK latencies, as a share of every request of the class (so the curve levels off at the share answered). */
export function latencyCdf(s: Scenario, sloClass: string): [number, number][] {
  const all = s.outcomes.filter((o) => o.sloClass === sloClass);
  const ok = all.filter((o) => o.status === 'OK').map((o) => o.latencyMs).sort((a, b) => a - b);
  return ok.map((ms, i) => [Math.max(0, ms), (i + 1) / all.length]);
}

const BINS: readonly [number, number][] = [[1, 1], [2, 2], [3, 4], [5, 8], [9, 16], [17, 32], [33, 64], [65, 128], [129, Infinity]];
const binLabel = ([lo, hi]: readonly [number, number]): string => (lo === hi ? String(lo) : Number.isFinite(hi) ? `${lo}-${hi}` : `${lo}+`);

/** Share of batches per size bin (powers of two). */
export function batchSizeShares(sizes: readonly number[]): number[] {
  return BINS.map(([lo, hi]) => (sizes.length === 0 ? 0 : sizes.filter((n) => n >= lo && n <= hi).length / sizes.length));
}

const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '-');
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');

function summaryTable(scenarios: readonly Scenario[]): string {
  const rows = scenarios.flatMap((s) =>
    s.summary.map((c) => `<tr><td>${escapeXml(s.name)}</td><td>${escapeXml(c.sloClass)}</td><td>${c.sent}</td><td>${c.ok}</td><td>${c.rejected}</td><td>${c.timedOut}</td><td>${ms(c.p50Ms)}</td><td>${ms(c.p95Ms)}</td><td>${ms(c.p99Ms)}</td><td>${pct(c.attainment)}</td></tr>`),
  );
  return `<table><thead><tr><th>run</th><th>class</th><th>requests</th><th>ok</th><th>rejected</th><th>unanswered</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>SLO met</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

export function renderWhatIfReport(result: WhatIfResult): string {
  const scenarios = [result.recorded, result.baseline, result.alternative];
  const classes = [...new Set(scenarios.flatMap((s) => s.outcomes.map((o) => o.sloClass)))].sort();
  const cdfs = classes.map((c) =>
    stepChart({
      title: `Latency CDF, class ${c}`, xLabel: 'latency from submission (ms)', yLabel: 'share of requests answered OK', yMax: 1,
      series: scenarios.map((s, i) => ({ name: s.name, color: COLORS[i]!, points: latencyCdf(s, c) })),
    }),
  );
  const batches = barChart({
    title: 'Batch sizes', xLabel: 'batch size', yLabel: 'share of batches', categories: BINS.map(binLabel),
    series: scenarios.map((s, i) => ({ name: s.name, color: COLORS[i]!, values: batchSizeShares(s.batchSizes) })),
  });
  const attainmentChart = barChart({
    title: 'SLO attainment', xLabel: 'SLO class', yLabel: 'share answered OK by the deadline', yMax: 1, categories: [...classes, 'all'],
    series: scenarios.map((s, i) => ({
      name: s.name, color: COLORS[i]!,
      values: [...classes.map((c) => s.summary.find((r) => r.sloClass === c)?.attainment ?? 0), attainment(s)].map((v) => (Number.isFinite(v) ? v : 0)),
    })),
  });
  const fits = result.fits
    .map((f) => `<li>${escapeXml(f.model)}: service time = ${f.interceptMs.toFixed(2)} ms + ${f.perSampleMs.toFixed(3)} ms × batch (${f.samples} batches${f.flat ? ', one batch size only: flat fit' : `, R² ${f.r2.toFixed(2)}`})</li>`)
    .join('');
  const workers = result.workers
    .map((w) => `<li>${escapeXml(w.workerId)}: ${w.slots} slot(s), ${w.devices.length} device(s)${Number.isFinite(w.aliveToMs) ? `, stops at ${new Date(w.aliveToMs).toISOString()}` : ''}</li>`)
    .join('');
  const delta = attainment(result.alternative) - attainment(result.baseline);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gpuflow what-if: ${escapeXml(result.policy.name)}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
td:first-child, td:nth-child(2), th { text-align: left; }
.plots { display: flex; flex-wrap: wrap; gap: 1em; }
.note { color: #555; max-width: 60em; }
</style>
</head>
<body>
<h1>What if: ${escapeXml(result.policy.name)}</h1>
<p>Range ${new Date(result.window.fromMs).toISOString()} to ${new Date(result.window.toMs).toISOString()}, ${result.recorded.outcomes.length} requests.</p>
<p id="headline">SLO attainment, all classes: recorded ${pct(attainment(result.recorded))}, simulated with the recorded policy ${pct(attainment(result.baseline))}, simulated with ${escapeXml(result.policy.name)} ${pct(attainment(result.alternative))} (${delta >= 0 ? '+' : ''}${(delta * 100).toFixed(1)} points against the simulated baseline).</p>
${summaryTable(scenarios)}
<div class="plots">
${[attainmentChart, ...cdfs, batches].map((svg) => `<figure>${svg}</figure>`).join('\n')}
</div>
<h2>Simulated fleet</h2>
<ul>${workers}</ul>
<p>Assigned batches reach their worker ${result.hops.dispatchMs.toFixed(1)} ms after assignment, and their answers arrive ${result.hops.returnMs.toFixed(1)} ms after they finish (recorded medians).</p>
<ul>${fits}</ul>
<h2>Policy</h2>
<pre>${escapeXml(JSON.stringify(result.policy, null, 2))}</pre>
<p class="note">The simulation runs the dispatcher's own batcher and scheduler in virtual time on workers whose service time is the line fitted to the recorded batches. Compare the alternative with the simulated baseline: both share the simulation's simplifications (no noise, fixed Kafka hops at their recorded medians), which the recorded run does not.</p>
</body>
</html>
`;
}
