/**
 * `gpuflow soak` for two minutes on the real stack: the pipeline's processes under steady load,
 * every one sampled throughout, every request answered, a JSON report and an SVG plot written, and
 * an exit code that agrees with the report's verdict. Two minutes judge only gross growth (the
 * limit here is 50 MiB/min; start-up and JIT dominate so short a run); the 30-minute run in
 * bench/results/soak-30min.json judges memory at 1 MiB/min.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SoakReport } from '../../src/soak/soak-report.js';

const RSS_LIMIT = 50;

describe('gpuflow soak', () => {
  it('runs the pipeline for two minutes, samples memory and lag, and exits as its verdict says', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'gpuflow-soak-')), 'soak.json');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/run.ts', 'soak', '--minutes', '2', '--rate', '20', '--sample-s', '5', '--warmup-s', '30', '--max-rss-slope', String(RSS_LIMIT), '--out', out, '--no-stack'],
      { env: { ...process.env, GPUFLOW_LOG: 'error' }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));

    const report = JSON.parse(readFileSync(out, 'utf8')) as SoakReport;
    // The exit code is the verdict, and the verdict is the limits applied to the fitted slopes.
    expect(code, stdout).toBe(report.ok ? 0 : 1);
    for (const v of report.memory) expect(v.ok, v.name).toBe(v.trend.perMinute <= RSS_LIMIT);
    for (const v of report.lag) expect(v.ok, v.name).toBe(v.trend.perMinute <= report.params.limits.maxLagGrowthPerMin || v.last <= report.params.limits.lagFloor);
    expect(report.ok).toBe([...report.memory, ...report.lag].every((v) => v.ok) && report.reasons.length === 0);
    expect(report.ok, report.reasons.join('; ')).toBe(true);

    // Every process of the pipeline was sampled all along, and every consumer group watched.
    expect(report.memory.map((v) => v.name).sort()).toEqual(['dispatcher', 'projector', 'worker 1', 'worker 2']);
    expect(report.samples.length).toBeGreaterThanOrEqual(20);
    for (const s of report.samples) expect(Object.keys(s.rssMiB).length, `sample at ${s.tSec} s`).toBe(5);
    expect(report.lag.length).toBe(6);
    for (const v of report.memory) expect(v.trend.points).toBeGreaterThanOrEqual(15);

    // Steady load, every request answered once (no fault here, so no duplicate either).
    const r = report.requests;
    expect(r.sent).toBeGreaterThan(20 * 120 * 0.8);
    expect(r.ok + r.rejected).toBe(r.sent);
    expect(r.timedOut + r.failed).toBe(0);
    expect(r.duplicatesDropped).toBe(0);

    const svg = readFileSync(out.replace(/\.json$/, '.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg.match(/<polyline/g)?.length).toBe(5 + 6);
  }, 300_000);
});
