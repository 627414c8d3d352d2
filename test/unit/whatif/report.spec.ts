import { describe, expect, it } from 'vitest';
import { barChart, escapeXml, stepChart } from '../../../src/report/svg.js';
import { batchSizeShares, latencyCdf, renderWhatIfReport } from '../../../src/report/whatif-report.js';
import type { RequestOutcome } from '../../../src/whatif/fleet-sim.js';
import { parsePolicy } from '../../../src/whatif/policy.js';
import type { Scenario, WhatIfResult } from '../../../src/whatif/whatif.js';

const outcome = (i: number, sloClass: string, status: RequestOutcome['status'], latencyMs: number): RequestOutcome => ({ requestId: `r${i}`, sloClass, status, latencyMs, inTime: status === 'OK' && latencyMs < 100 });
const scenario = (name: string, outcomes: RequestOutcome[], batchSizes: number[]): Scenario => ({ name, outcomes, batchSizes, summary: [] });

describe('svg charts', () => {
  it('draw each series with its points, and escape text', () => {
    const svg = stepChart({ title: 'a < b & "c"', xLabel: 'x', yLabel: 'y', series: [{ name: 'one', color: '#000', points: [[1, 0.5], [2, 1]] }] });
    expect(svg).toMatch(/^<svg [^>]*data-series="one"/);
    expect(svg).toContain('data-points="2"');
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot;');
    expect(svg).not.toContain('a < b');
    const bars = barChart({ title: 't', xLabel: 'x', yLabel: 'y', categories: ['p', 'q'], series: [{ name: 's1', color: '#111', values: [1, 2] }, { name: 's2', color: '#222', values: [0, 3] }] });
    expect(bars.match(/<rect x=/g)).toHaveLength(4);
    expect(bars).toContain('data-value="3"');
    expect(escapeXml(`'`)).toBe('&apos;');
  });
});

describe('what-if report', () => {
  const outcomes = [outcome(1, 'batch', 'OK', 50), outcome(2, 'batch', 'OK', 150), outcome(3, 'batch', 'REJECTED', 10), outcome(4, 'realtime', 'OK', 20)];

  it('builds CDFs as shares of every request of the class, and batch-size shares by bin', () => {
    expect(latencyCdf(scenario('s', outcomes, []), 'batch')).toEqual([[50, 1 / 3], [150, 2 / 3]]);
    expect(batchSizeShares([1, 1, 3, 200])).toEqual([0.5, 0, 0.25, 0, 0, 0, 0, 0, 0.25]);
    expect(batchSizeShares([])).toEqual(new Array(9).fill(0));
  });

  it('renders one page with the attainment, one CDF per class and the batch sizes as SVG', () => {
    const result: WhatIfResult = {
      window: { fromMs: 0, toMs: 1_000 }, policy: parsePolicy('{"name":"wider <fleet>"}', 'p.json'),
      fits: [{ model: 'm', interceptMs: 1, perSampleMs: 0.1, samples: 3, r2: 0.9, flat: false }], hops: { dispatchMs: 2, returnMs: 3 },
      workers: [{ workerId: 'w', devices: [], slots: 1, aliveFromMs: 0, aliveToMs: 500 }],
      recorded: scenario('recorded', outcomes, [1, 2]), baseline: scenario('baseline', outcomes, [1]), alternative: scenario('alternative', outcomes, [4, 4]),
    };
    const html = renderWhatIfReport(result);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).toContain('wider &lt;fleet&gt;');
    expect(html).toContain('+0.0 points');
    expect(html).toMatch(/stops at 1970-01-01T00:00:00.500Z/);
  });
});
