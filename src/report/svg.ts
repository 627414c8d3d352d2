/**
 * Small inline-SVG charts for HTML reports: a step line chart (for CDFs) and a grouped bar chart
 * (for histograms and per-class shares). Plain strings, no plotting library, so a report is one
 * self-contained file that any browser opens. Every chart carries its series names in
 * data-series, and each series its points, so a test can read the data back from the markup.
 */

export interface LineSeries {
  name: string;
  color: string;
  /** [x, y] in data units, x ascending. */
  points: readonly (readonly [number, number])[];
}

export interface BarSeries {
  name: string;
  color: string;
  /** One value per category. */
  values: readonly number[];
}

const WIDTH = 640;
const HEIGHT = 320;
const MARGIN = { left: 56, right: 16, top: 32, bottom: 48 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const fmt = (n: number): string => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(2));
const px = (n: number): string => n.toFixed(1);

/** Round tick values covering [0, max]. */
function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(v);
  return out;
}

function frame(title: string, xLabel: string, yLabel: string, series: readonly { name: string; color: string }[], body: string, axes: string): string {
  const legend = series
    .map((s, i) => `<g transform="translate(${MARGIN.left + 8 + i * 190},${MARGIN.top - 14})"><rect width="10" height="10" fill="${escapeXml(s.color)}"/><text x="14" y="9" font-size="11">${escapeXml(s.name)}</text></g>`)
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${escapeXml(title)}" data-series="${escapeXml(series.map((s) => s.name).join('|'))}" font-family="sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    `<text x="${WIDTH / 2}" y="14" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
    legend,
    axes,
    body,
    `<text x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 8}" text-anchor="middle" font-size="11">${escapeXml(xLabel)}</text>`,
    `<text transform="translate(14,${MARGIN.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle" font-size="11">${escapeXml(yLabel)}</text>`,
    '</svg>',
  ].join('');
}

/** A line chart drawn as steps (right-continuous), which is how an empirical CDF looks. */
export function stepChart(options: { title: string; xLabel: string; yLabel: string; series: readonly LineSeries[]; yMax?: number }): string {
  const xMax = Math.max(0, ...options.series.flatMap((s) => s.points.map(([x]) => x)));
  const yMax = options.yMax ?? Math.max(0, ...options.series.flatMap((s) => s.points.map(([, y]) => y)));
  const xTicks = ticks(xMax);
  const yTicks = ticks(yMax);
  const xs = Math.max(xTicks[xTicks.length - 1] ?? 1, 1e-9);
  const ys = Math.max(yTicks[yTicks.length - 1] ?? 1, 1e-9);
  const X = (x: number): number => MARGIN.left + (x / xs) * PLOT_W;
  const Y = (y: number): number => MARGIN.top + PLOT_H - (y / ys) * PLOT_H;
  const axes = axesMarkup(xTicks.map((t) => [X(t), fmt(t)] as const), yTicks.map((t) => [Y(t), fmt(t)] as const));
  const body = options.series
    .map((s) => {
      const path: string[] = [];
      let lastY = 0;
      for (const [x, y] of s.points) {
        path.push(`${px(X(x))},${px(Y(lastY))}`, `${px(X(x))},${px(Y(y))}`);
        lastY = y;
      }
      return `<polyline class="series" data-name="${escapeXml(s.name)}" data-points="${s.points.length}" fill="none" stroke="${escapeXml(s.color)}" stroke-width="2" points="${path.join(' ')}"/>`;
    })
    .join('');
  return frame(options.title, options.xLabel, options.yLabel, options.series, body, axes);
}

/** Bars grouped by category, one bar per series in each group. */
export function barChart(options: { title: string; xLabel: string; yLabel: string; categories: readonly string[]; series: readonly BarSeries[]; yMax?: number }): string {
  const yMax = options.yMax ?? Math.max(0, ...options.series.flatMap((s) => s.values));
  const yTicks = ticks(yMax);
  const ys = Math.max(yTicks[yTicks.length - 1] ?? 1, 1e-9);
  const Y = (y: number): number => MARGIN.top + PLOT_H - (y / ys) * PLOT_H;
  const group = PLOT_W / Math.max(1, options.categories.length);
  const bar = (group * 0.8) / Math.max(1, options.series.length);
  const xLabels = options.categories.map((c, i) => [MARGIN.left + group * (i + 0.5), c] as const);
  const axes = axesMarkup(xLabels, yTicks.map((t) => [Y(t), fmt(t)] as const));
  const body = options.series
    .map((s, si) => {
      const rects = s.values
        .map((v, ci) => {
          const x = MARGIN.left + group * ci + group * 0.1 + bar * si;
          const h = Math.max(0, MARGIN.top + PLOT_H - Y(v));
          return `<rect x="${px(x)}" y="${px(Y(v))}" width="${px(Math.max(1, bar - 1))}" height="${px(h)}" fill="${escapeXml(s.color)}" data-value="${v}"><title>${escapeXml(`${s.name}, ${options.categories[ci] ?? ''}: ${fmt(v)}`)}</title></rect>`;
        })
        .join('');
      return `<g class="series" data-name="${escapeXml(s.name)}" data-points="${s.values.length}">${rects}</g>`;
    })
    .join('');
  return frame(options.title, options.xLabel, options.yLabel, options.series, body, axes);
}

function axesMarkup(xTicks: readonly (readonly [number, string])[], yTicks: readonly (readonly [number, string])[]): string {
  const bottom = MARGIN.top + PLOT_H;
  const lines = [
    `<line x1="${MARGIN.left}" y1="${bottom}" x2="${MARGIN.left + PLOT_W}" y2="${bottom}" stroke="#444"/>`,
    `<line x1="${MARGIN.left}" y1="${MARGIN.top}" x2="${MARGIN.left}" y2="${bottom}" stroke="#444"/>`,
  ];
  for (const [x, label] of xTicks) lines.push(`<text x="${px(x)}" y="${bottom + 16}" text-anchor="middle" font-size="10">${escapeXml(label)}</text>`);
  for (const [y, label] of yTicks) {
    lines.push(`<line x1="${MARGIN.left}" y1="${px(y)}" x2="${MARGIN.left + PLOT_W}" y2="${px(y)}" stroke="#ddd"/>`);
    lines.push(`<text x="${MARGIN.left - 6}" y="${px(y + 3)}" text-anchor="end" font-size="10">${escapeXml(label)}</text>`);
  }
  return lines.join('');
}
