/**
 * The main job: the local stack, topics and schemas, the dispatcher, GPU workers (real GPUs where
 * NVML finds them, simulated ones otherwise, and the output says which) and a load generator,
 * with a live status line and a summary table at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { DEFAULT_DEADLINES, parseClasses, parseWeights, planArrivals } from '../../client/arrivals.js';
import { createClient } from '../../client/client.js';
import { runLoad } from '../../client/load-run.js';
import { formatSummary, summarise, topReasons, type Outcome } from '../../client/summary.js';
import { ConfigError } from '../../domain/errors.js';
import { createProducer } from '../../kafka/producer.js';
import { bootstrap } from '../../services/bootstrap.js';
import { openDevices } from '../../services/devices.js';
import { startDispatcher } from '../../services/dispatcher.js';
import { DEMO_MANIFEST, publishManifest } from '../../services/manifests.js';
import type { Command } from '../command.js';
import { loadTensor } from './submit.js';

/** Starts `gpuflow ARGS` as a child process the same way this process was started (compiled or from source). */
export function spawnGpuflow(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

const histogram = (sizes: readonly number[]): string => {
  const buckets = [1, 2, 4, 8, 16, 32, 64, 128, 256];
  const counts = buckets.map((b, i) => sizes.filter((s) => s >= b && s < (buckets[i + 1] ?? Infinity)).length);
  return buckets.map((b, i) => `${b}${buckets[i + 1] ? `-${buckets[i + 1]! - 1}` : '+'}: ${counts[i]}`).filter((_, i) => counts[i]! > 0).join(', ');
};

export const demoCommand: Command = {
  name: 'demo',
  logLevel: 'warn',
  summary: 'the main job: local stack, dispatcher, GPU workers and a load generator, with live status and a summary',
  usage: 'gpuflow demo [--duration S] [--rate N] [--workers N] [--arrivals poisson|bursty] [--simulate] [--no-stack]',
  flags: {
    duration: { type: 'number', description: 'seconds of load', default: 20, positive: true },
    rate: { type: 'number', description: 'requests per second', default: 300, positive: true },
    workers: { type: 'number', description: 'worker processes', default: 2, integer: true, min: 1 },
    arrivals: { type: 'string', description: 'poisson or bursty', default: 'bursty' },
    tenants: { type: 'string', description: 'tenant mix', default: 'acme:2,globex:1,initech:1' },
    classes: { type: 'string', description: 'SLO class mix', default: 'realtime:1,interactive:2,batch:1' },
    simulate: { type: 'boolean', description: 'simulated devices even where a GPU exists' },
    'no-stack': { type: 'boolean', description: 'use services already running (KAFKA_BROKERS, SCHEMA_REGISTRY_URL)' },
  },
  async run({ flags }, { config, logger, print }) {
    const pattern = String(flags.arrivals);
    if (pattern !== 'poisson' && pattern !== 'bursty') throw new ConfigError(`--arrivals must be poisson or bursty, got '${pattern}'`);
    const workers = Number(flags.workers);
    const started = Date.now();
    print('gpuflow demo: starting the local stack, topics and schemas…');
    const { kafka, registry } = await bootstrap(config, logger, { startStack: !flags['no-stack'] && !config.external.kafka });
    const probe = openDevices({ simulate: Boolean(flags.simulate), count: 1, type: 'H100' }, logger);
    const real = !probe.inventory.simulated;
    const deviceLine = real
      ? `real GPUs via NVML: ${probe.inventory.devices().map((d) => d.name).join(', ')}`
      : `SIMULATED devices (H100 latency model): ${probe.reason.replace(/^simulated: /, '')}`;
    probe.inventory.close();
    print(`devices: ${deviceLine}`);

    const producer = await createProducer(kafka);
    await publishManifest(producer, registry, DEMO_MANIFEST);
    await producer.disconnect();
    const runId = randomUUID().slice(0, 6);
    const dispatcher = await startDispatcher(kafka, registry, logger, { groupId: `gpuflow-demo-${runId}`, tickMs: 250, maxInFlightRequests: 50_000, startAtEnd: true });
    const joined = firstValueFrom(dispatcher.decisions$.pipe(filter((e) => e.type === 'WorkerJoined'), take(workers), toArray(), timeout(90_000)));
    const children = Array.from({ length: workers }, (_, i) =>
      spawnGpuflow(['worker', '--id', `demo-${runId}-w${i + 1}`, '--slots', '2', ...(flags.simulate || !real ? ['--simulate'] : [])], { ...process.env, GPUFLOW_LOG: process.env.GPUFLOW_LOG ?? 'warn' }),
    );
    const stopChildren = async (): Promise<void> => {
      await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => (c.once('exit', r), c.kill('SIGTERM'))))));
    };
    try {
      await joined;
      print(`workers: ${workers} joined; sending ${pattern} load at ${Number(flags.rate)} req/s for ${Number(flags.duration)} s`);
      const client = await createClient(config, logger);
      const arrivals = planArrivals({
        ratePerSec: Number(flags.rate), durationSec: Number(flags.duration), pattern, models: [DEMO_MANIFEST.model],
        tenants: parseWeights(String(flags.tenants), '--tenants'), classes: parseClasses(String(flags.classes)), deadlines: DEFAULT_DEADLINES, seed: 7,
      });
      const outcomes: Outcome[] = [];
      const t0 = Date.now();
      const status = setInterval(() => {
        const secs = (Date.now() - t0) / 1000;
        const rows = summarise(outcomes);
        const perClass = rows.map((r) => `${r.sloClass} p50/p95/p99 ${r.p50Ms.toFixed(0)}/${r.p95Ms.toFixed(0)}/${r.p99Ms.toFixed(0)} ms`).join('; ');
        const sizes = dispatcher.stats.batchSizes;
        const mean = sizes.length ? sizes.reduce((a, b) => a + b, 0) / sizes.length : 0;
        process.stderr.write(
          `[${secs.toFixed(0).padStart(3)}s] sent ${client.stats.sent}/${arrivals.length}  done ${outcomes.length} (${(outcomes.length / Math.max(secs, 0.001)).toFixed(0)}/s)  queued ${dispatcher.stats.unfinished}  batches ${dispatcher.stats.batchesDone} (mean ${mean.toFixed(1)})  ${perClass}\n`,
        );
      }, 1000);
      try {
        await runLoad(client, arrivals, { tensor: loadTensor(DEMO_MANIFEST.inputShape[0]!), onOutcome: (_n, o) => outcomes.push(o) });
      } finally {
        clearInterval(status);
      }
      const elapsed = (Date.now() - t0) / 1000;
      const duplicates = client.stats.duplicates;
      await client.close();
      print('');
      print(`gpuflow demo summary (${real ? 'real GPUs' : 'SIMULATED devices'}; ${workers} workers; ${pattern} arrivals)`);
      for (const line of formatSummary(summarise(outcomes))) print(`  ${line}`);
      print('');
      print(`  requests          ${arrivals.length} sent, ${outcomes.length} answered exactly once (${duplicates} duplicate results dropped by the client)`);
      print(`  throughput        ${(outcomes.length / elapsed).toFixed(0)} requests/s over ${elapsed.toFixed(1)} s`);
      print(`  batches           ${dispatcher.stats.batchesDone} done; sizes ${histogram(dispatcher.stats.batchSizes)}`);
      for (const { reason, count } of topReasons(outcomes)) print(`  not served        ${count} × ${reason}`);
      print(`  total time        ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return outcomes.length === arrivals.length ? 0 : 1;
    } finally {
      await stopChildren();
      await dispatcher.stop();
    }
  },
};
