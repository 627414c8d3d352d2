/**
 * Replay and what-if against the real stack. A short live run (dispatcher and two simulated
 * workers as CLI processes, one worker killed with SIGKILL midway) is recorded; then
 * `gpuflow replay --verify` re-decides that range and must find 0 differences, and
 * `gpuflow whatif` with a policy known to be better (more slots per worker) must report the
 * improvement in a well-formed HTML report whose every plot is an SVG with data.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planArrivals } from '../../src/client/arrivals.js';
import { createClient, type GpuflowClient } from '../../src/client/client.js';
import { runLoad } from '../../src/client/load-run.js';
import { topReasons, type Outcome } from '../../src/client/summary.js';
import { loadTensor } from '../../src/cli/commands/submit.js';
import type { ModelManifest } from '../../src/domain/events/manifest.js';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { runReplay } from '../../src/replay/replay-run.js';
import { renderWhatIfReport } from '../../src/report/whatif-report.js';
import { bootstrap } from '../../src/services/bootstrap.js';
import { parsePolicy } from '../../src/whatif/policy.js';
import { attainment } from '../../src/whatif/whatif.js';
import { runWhatIf } from '../../src/whatif/whatif-run.js';
import { publishTestManifest, testConfig, testKafka, testLogger } from '../helpers/kafka.js';
import { children, gpuflowSync, kill, ready } from '../helpers/processes.js';
import { expectVerifiedReplay } from '../helpers/replay.js';

const logger = testLogger();
const run = randomUUID().slice(0, 6);
const dir = mkdtempSync(join(tmpdir(), 'gpuflow-replay-'));

/**
 * A model whose simulated batches cost 12.5 ms + 1.75 ms per sample (bert-base on a simulated L4),
 * recorded with batching off (max batch 1). Each worker has one slot, so the survivor alone serves
 * at most 1000 / 14.25 = 70 requests a second, less than the 100 sent, even with Kafka hops of no
 * time at all: however fast the machine that records the run, the simulated baseline misses
 * deadlines once the other worker is killed, and more slots do not.
 */
const MANIFEST: ModelManifest = {
  model: 'bert-base', version: '1', executor: 'simulated', weightsUri: 'bert-base.safetensors', inputShape: [64], dtype: 'FP32',
  memoryPerSampleBytes: 4096, maxBatchSize: 1, preferredBatchSizes: [], maxQueueDelayMs: 2, commit: '',
};

const procs = children();
const gpuflow = (args: string[]): ChildProcess => procs.gpuflow(args);

let client: GpuflowClient;
/** The recorded range: from before the dispatcher started to after the last answer. */
const range = { fromMs: 0, toMs: 0, loadFromMs: 0 };
let outcomes: Outcome[] = [];

beforeAll(async () => {
  const config = testConfig();
  await bootstrap(config, logger, { startStack: false });
  await publishTestManifest(MANIFEST);
  client = await createClient(config, logger);

  range.fromMs = Date.now();
  const dispatcher = gpuflow(['dispatcher', '--group', `it-replay-${run}`, '--tick-ms', '200', '--start-at-end']);
  const worker = (id: string): ChildProcess => gpuflow(['worker', '--simulate', '--gpu-type', 'L4', '--id', id, '--slots', '1', '--heartbeat-ms', '100']);
  const victim = worker(`it-replay-victim-${run}`);
  const survivor = worker(`it-replay-survivor-${run}`);
  await Promise.all([ready(dispatcher, 'dispatcher'), ready(victim, 'worker'), ready(survivor, 'worker')]);
  // One answered request first: the consumer groups have joined, so the load is not late from the start.
  await client.infer({ model: MANIFEST.model, tenant: 'acme', sloClass: 'batch', deadlineMs: 60_000, tensor: loadTensor(64)({} as never, 0) });
  const arrivals = planArrivals({
    ratePerSec: 100, durationSec: 8, pattern: 'poisson', models: [MANIFEST.model],
    tenants: { acme: 1, globex: 1 }, classes: { realtime: 1, interactive: 1, batch: 2 },
    deadlines: { realtime: 500, interactive: 1_500, batch: 4_000 }, seed: 7,
  });
  range.loadFromMs = Date.now();
  const load = runLoad(client, arrivals, { tensor: loadTensor(64), graceMs: 10_000 });
  await new Promise((r) => setTimeout(r, 4_000));
  await kill(victim, 'SIGKILL');
  outcomes = await load;
  range.toMs = Date.now();
  await Promise.all([dispatcher, survivor].map((c) => kill(c, 'SIGTERM')));
}, 240_000);

afterAll(async () => {
  await client?.close();
  await procs.killAll();
});

describe('replay and what-if on a recorded run with a worker failure', () => {
  it('recorded a run in which the killed worker cost deadlines', () => {
    expect(outcomes.length).toBeGreaterThan(150);
    // Unbatched, this fleet serves only part of the load on a 2-core machine; what matters here is a run with both.
    expect(outcomes.filter((o) => o.status === 'OK').length, JSON.stringify(topReasons(outcomes))).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.status === 'REJECTED').length).toBeGreaterThan(0);
  });

  it('replay --verify re-decides the range with 0 differences', async () => {
    expect(expectVerifiedReplay(range.fromMs, range.toMs)).toBeGreaterThan(300);

    // The same in-process, to look at what was re-decided: the failure is in it.
    const result = await runReplay(testKafka(), createRegistryClient(testConfig().schemaRegistryUrl), logger, {
      from: { kind: 'time', ms: range.fromMs }, to: { kind: 'time', ms: range.toMs }, speed: 'max', verify: true,
    });
    expect(result.verification?.difference).toBeNull();
    expect(result.verification?.decisions).toBe(result.decisions.length);
    const types = new Set(result.decisions.map((d) => d.type));
    for (const type of ['WorkerJoined', 'BatchFormed', 'BatchAssigned', 'BatchCompleted', 'WorkerEvicted']) expect(types, type).toContain(type);
    expect(result.decisions.some((d) => d.type === 'WorkerEvicted' && d.workerId === `it-replay-victim-${run}`)).toBe(true);
  });

  it('replay paced at 4x real time takes about a quarter of the range', async () => {
    const toMs = range.loadFromMs + 6_000;
    const started = Date.now();
    expectVerifiedReplay(range.loadFromMs, toMs, ['--speed', '4']);
    const seconds = (Date.now() - started) / 1000;
    // The process is re-driven from its start (before the load) through 6 s of load: at 4x, well over 1.5 s of pacing.
    expect(seconds).toBeGreaterThan(1.5);
  });

  it('whatif with more slots per worker reports better SLO attainment, in a well-formed HTML report', async () => {
    const policyFile = join(dir, 'slots.json');
    writeFileSync(policyFile, JSON.stringify({ name: 'eight slots per worker', fleet: { slots: 8 } }));
    const out = join(dir, 'report.html');
    const cli = gpuflowSync(['whatif', '--from', String(range.fromMs), '--to', String(range.toMs), '--policy', policyFile, '--out', out]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/report written to/);

    const result = await runWhatIf(testKafka(), createRegistryClient(testConfig().schemaRegistryUrl), logger, {
      from: { kind: 'time', ms: range.fromMs }, to: { kind: 'time', ms: range.toMs }, policy: parsePolicy(readFileSync(policyFile, 'utf8'), policyFile),
    });
    expect(result.recorded.outcomes.length).toBeGreaterThan(150);
    // The killed worker overran the baseline's one-slot survivor; eight slots absorb the load.
    const seen = JSON.stringify({ hops: result.hops, fits: result.fits, baseline: attainment(result.baseline), alternative: attainment(result.alternative) });
    expect(attainment(result.baseline), seen).toBeLessThan(0.95);
    expect(attainment(result.alternative), seen).toBeGreaterThan(attainment(result.baseline) + 0.03);
    console.log('whatif:', seen);
    expect(Math.max(...result.baseline.batchSizes)).toBe(1);
    expect(result.workers.find((w) => w.workerId === `it-replay-victim-${run}`)?.aliveToMs).toBeLessThan(range.toMs);

    const html = readFileSync(out, 'utf8');
    expect(wellFormedProblems(html)).toEqual([]);
    const svgs = [...html.matchAll(/<svg\b[^>]*data-series="([^"]*)"[\s\S]*?<\/svg>/g)];
    // Attainment, one latency CDF per class (3), batch sizes.
    expect(svgs).toHaveLength(5);
    for (const [svg, series] of svgs) {
      expect(series!.split('|')).toHaveLength(3);
      const counts = [...svg.matchAll(/data-points="(\d+)"/g)].map((m) => Number(m[1]));
      expect(counts).toHaveLength(3);
      expect(counts.every((n) => n > 0)).toBe(true);
    }
    expect(renderWhatIfReport(result)).toContain('eight slots per worker');
  });

  it('the report renders in headless Chromium', (ctx) => {
    const browser = ['chromium', 'chromium-browser', 'google-chrome'].map((b) => spawnSync('which', [b], { encoding: 'utf8' }).stdout.trim()).find(Boolean);
    if (!browser) {
      ctx.skip('no Chromium on this machine (apt-get install chromium provides it)');
      return;
    }
    const out = join(dir, 'report.html');
    const png = join(dir, 'report.png');
    const args = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1400,2000'];
    const shot = spawnSync(browser, [...args, `--screenshot=${png}`, `file://${out}`], { encoding: 'utf8', timeout: 60_000 });
    expect(existsSync(png), shot.stderr).toBe(true);
    expect(statSync(png).size).toBeGreaterThan(20_000);
    // The browser's own parse of the page holds the five charts.
    const dom = spawnSync(browser, [...args, '--dump-dom', `file://${out}`], { encoding: 'utf8', timeout: 60_000 });
    expect((dom.stdout.match(/<svg\b/g) ?? []).length).toBe(5);
  });
});

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);

/** A strict check of the report's markup: every element closed, in order, attributes quoted. */
function wellFormedProblems(html: string): string[] {
  const problems: string[] = [];
  if (!html.startsWith('<!DOCTYPE html>')) problems.push('no doctype');
  const stack: string[] = [];
  const body = html.replace(/<!DOCTYPE html>/, '').replace(/<style>[\s\S]*?<\/style>/, '<style></style>');
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*(\/?)>|<|>/g)) {
    if (m[2] === undefined) {
      problems.push(`stray '${m[0]}' at ${m.index}`);
      continue;
    }
    const name = m[2].toLowerCase();
    if (m[1]) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open ?? 'nothing'}> at ${m.index}`);
    } else if (!m[4] && !VOID.has(name)) {
      stack.push(name);
    }
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(' > ')}`);
  return problems;
}
