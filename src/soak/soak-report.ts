/**
 * What a soak writes: its parameters, every sample, the fitted trends with their verdicts, and a
 * small SVG plot of memory and lag over time (no plotting library: two panels of polylines).
 */
import type { SeriesVerdict, SoakLimits } from './trend.js';

export interface SoakSample {
  /** Seconds since the load began. */
  tSec: number;
  /** Process name → resident MiB (absent once a process is gone). */
  rssMiB: Record<string, number>;
  /** 'group on topic' → messages behind. */
  lag: Record<string, number>;
  sent: number;
  answered: number;
  /** Latency of the answers in this sample's window, ms (0 when none). */
  p50Ms: number;
  p99Ms: number;
}

export interface SoakReport {
  name: 'soak';
  params: { minutes: number; ratePerSec: number; sampleSeconds: number; warmupSeconds: number; workers: number; limits: SoakLimits };
  machine: string;
  startedAt: string;
  requests: { sent: number; ok: number; rejected: number; timedOut: number; failed: number; duplicatesDropped: number; topReasons: { reason: string; count: number }[] };
  /** Pipeline processes, judged; the load generator is reported apart (it is the client, not gpuflow). */
  memory: SeriesVerdict[];
  loadGeneratorRss: SeriesVerdict;
  lag: SeriesVerdict[];
  ok: boolean;
  reasons: string[];
  samples: SoakSample[];
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function panel(title: string, unit: string, series: Map<string, [number, number][]>, top: number, width: number, height: number, endSec: number, warmupSec: number): string {
  const left = 70;
  const plotW = width - left - 220;
  const values = [...series.values()].flat().map(([, y]) => y);
  const maxY = Math.max(1, ...values) * 1.1;
  const x = (t: number): number => left + (t / Math.max(endSec, 1)) * plotW;
  const y = (v: number): number => top + height - (v / maxY) * height;
  const out = [
    `<text x="${left}" y="${top - 8}" font-size="13" font-weight="bold">${escape(title)}</text>`,
    `<rect x="${left}" y="${top}" width="${x(warmupSec) - left}" height="${height}" fill="#eee"/>`,
    `<text x="${left + 4}" y="${top + 14}" font-size="10" fill="#777">warm-up</text>`,
    `<line x1="${left}" y1="${top + height}" x2="${left + plotW}" y2="${top + height}" stroke="#000"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + height}" stroke="#000"/>`,
    `<text x="${left - 6}" y="${top + 4}" font-size="10" text-anchor="end">${maxY.toFixed(0)} ${unit}</text>`,
    `<text x="${left - 6}" y="${top + height}" font-size="10" text-anchor="end">0</text>`,
    `<text x="${left + plotW}" y="${top + height + 14}" font-size="10" text-anchor="end">${(endSec / 60).toFixed(1)} min</text>`,
  ];
  [...series].forEach(([name, points], i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`);
    out.push(`<text x="${left + plotW + 10}" y="${top + 12 + i * 14}" font-size="11" fill="${colour}">${escape(name)}</text>`);
  });
  return out.join('\n');
}

/** RSS per process (top) and lag per group (bottom) against time, the warm-up shaded. */
export function renderSvg(report: SoakReport): string {
  const width = 900;
  const endSec = report.samples.at(-1)?.tSec ?? 0;
  const collect = (pick: (s: SoakSample) => Record<string, number>): Map<string, [number, number][]> => {
    const series = new Map<string, [number, number][]>();
    for (const s of report.samples) {
      for (const [name, v] of Object.entries(pick(s))) {
        const list = series.get(name) ?? [];
        list.push([s.tSec, v]);
        series.set(name, list);
      }
    }
    return series;
  };
  const verdict = report.ok ? 'neither memory nor lag grows without bound' : report.reasons.join('; ');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="560" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14">gpuflow soak: ${report.params.minutes} min at ${report.params.ratePerSec} req/s, ${report.params.workers} workers — ${escape(verdict)}</text>`,
    panel('resident memory (MiB)', 'MiB', collect((s) => s.rssMiB), 60, width, 200, endSec, report.params.warmupSeconds),
    panel('consumer lag (messages)', 'msgs', collect((s) => s.lag), 320, width, 200, endSec, report.params.warmupSeconds),
    '</svg>',
    '',
  ].join('\n');
}
