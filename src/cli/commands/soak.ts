/**
 * `gpuflow soak`: the live pipeline under steady load for N minutes, sampling each process's
 * resident memory and the consumer groups' lag; writes a JSON report and an SVG plot, and exits 1
 * when either grows without bound after the warm-up (limits in the flags, described in
 * docs/reliability.md).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../../domain/errors.js';
import { bootstrap } from '../../services/bootstrap.js';
import { runSoak } from '../../soak/run-soak.js';
import { renderSvg } from '../../soak/soak-report.js';
import type { SeriesVerdict } from '../../soak/trend.js';
import type { Command } from '../command.js';

const line = (v: SeriesVerdict, unit: string, slopeUnit: string): string =>
  `  ${v.ok ? 'ok  ' : 'FAIL'}  ${v.name.padEnd(44)} last ${v.last.toFixed(1).padStart(8)} ${unit}  slope ${v.trend.perMinute.toFixed(3).padStart(9)} ${slopeUnit} (r² ${v.trend.r2.toFixed(2)})`;

export const soakCommand: Command = {
  name: 'soak',
  logLevel: 'warn',
  summary: 'run the live pipeline at a steady rate for N minutes; report memory and consumer lag over time, fail if either grows without bound',
  usage: 'gpuflow soak --minutes N --rate R [--workers N] [--sample-s S] [--warmup-s S] [--out FILE.json] [--no-stack]',
  flags: {
    minutes: { type: 'number', description: 'minutes of load', default: 30, positive: true },
    rate: { type: 'number', description: 'requests per second (Poisson arrivals)', default: 50, positive: true },
    workers: { type: 'number', description: 'simulated worker processes', default: 2, integer: true, min: 1 },
    'sample-s': { type: 'number', description: 'seconds between samples', default: 5, positive: true },
    'warmup-s': { type: 'number', description: 'seconds plotted but not fitted (default: a fifth of the run, 30 to 300 s)', min: 0 },
    'max-rss-slope': { type: 'number', description: 'MiB per minute a pipeline process may grow after the warm-up', default: 1, min: 0 },
    'max-lag-growth': { type: 'number', description: 'messages per minute a group\'s lag may grow after the warm-up…', default: 60, min: 0 },
    'lag-floor': { type: 'number', description: '…unless it ends at most this many messages behind', default: 1000, min: 0 },
    out: { type: 'string', description: 'JSON report (an SVG plot is written beside it)', default: 'soak-report.json' },
    'no-stack': { type: 'boolean', description: 'use services already running (KAFKA_BROKERS, SCHEMA_REGISTRY_URL)' },
  },
  async run({ flags }, { config, logger, print }) {
    const minutes = Number(flags.minutes);
    const ratePerSec = Number(flags.rate);
    const workers = Number(flags.workers);
    const sampleSeconds = Number(flags['sample-s']);
    const warmupSeconds = flags['warmup-s'] === undefined ? Math.min(300, Math.max(30, (minutes * 60) / 5)) : Number(flags['warmup-s']);
    if (warmupSeconds >= minutes * 60) throw new ConfigError('--warmup-s must be shorter than the run');
    const limits = { maxRssSlopeMiBPerMin: Number(flags['max-rss-slope']), maxLagGrowthPerMin: Number(flags['max-lag-growth']), lagFloor: Number(flags['lag-floor']) };
    const out = String(flags.out);
    if (!out.endsWith('.json')) throw new ConfigError('--out must name a .json file');

    print(`gpuflow soak: ${minutes} min at ${ratePerSec} req/s, ${workers} simulated workers; sampling every ${sampleSeconds} s, fitting after ${warmupSeconds} s`);
    const { kafka, registry } = await bootstrap(config, logger, { startStack: !flags['no-stack'] && !config.external.kafka });
    const report = await runSoak(config, kafka, registry, logger, {
      minutes, ratePerSec, workers, sampleSeconds, warmupSeconds, limits,
      onSample: (s) => {
        const rss = Object.entries(s.rssMiB).map(([name, mib]) => `${name} ${mib.toFixed(0)}`).join(', ');
        const lag = Math.max(0, ...Object.values(s.lag));
        process.stderr.write(`[${(s.tSec / 60).toFixed(1).padStart(5)} min] sent ${s.sent} answered ${s.answered} p50/p99 ${s.p50Ms.toFixed(0)}/${s.p99Ms.toFixed(0)} ms  RSS MiB: ${rss}  max lag ${lag}\n`);
      },
    });
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
    const svg = out.replace(/\.json$/, '.svg');
    writeFileSync(svg, renderSvg(report));

    const r = report.requests;
    print('');
    print(`requests: ${r.sent} sent, ${r.ok} ok, ${r.rejected} rejected, ${r.timedOut} timed out, ${r.failed} failed; ${r.duplicatesDropped} duplicate results dropped by the client`);
    for (const { reason, count } of r.topReasons) print(`  not served  ${count} × ${reason}`);
    print('resident memory after the warm-up:');
    for (const v of report.memory) print(line(v, 'MiB ', 'MiB/min'));
    print(`        (${report.loadGeneratorRss.name}: last ${report.loadGeneratorRss.last.toFixed(1)} MiB, slope ${report.loadGeneratorRss.trend.perMinute.toFixed(3)} MiB/min; the client, not judged)`);
    print('consumer lag after the warm-up:');
    for (const v of report.lag) print(line(v, 'msgs', 'msgs/min'));
    print(report.ok ? 'verdict: neither memory nor lag grows without bound' : `verdict: FAILED: ${report.reasons.join('; ')}`);
    print(`report: ${out}, plot: ${svg}`);
    return report.ok ? 0 : 1;
  },
};
