/**
 * A soak of the live pipeline: the demo's wiring (a dispatcher, simulated workers, a projector,
 * each its own process) under steady Poisson load for N minutes. Every few seconds it samples the
 * resident memory of each process and the lag of the pipeline's consumer groups; at the end it
 * fits a line through what came after the warm-up and says whether either grows without bound.
 */
import { randomUUID } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { createClient } from '../client/client.js';
import { RequestRejectedError } from '../client/errors.js';
import { loadTensor } from '../cli/commands/submit.js';
import type { Config } from '../config.js';
import { GpuflowError } from '../domain/errors.js';
import type { Kafka } from '../kafka/client.js';
import { endOffsetsWith } from '../kafka/offsets.js';
import { createProducer } from '../kafka/producer.js';
import type { RegistryClient } from '../kafka/registry.js';
import type { Logger } from '../log.js';
import { connectRedis } from '../projections/redis-connection.js';
import { dumpProjections } from '../projections/redis-sink.js';
import { DEMO_MANIFEST, publishManifest } from '../services/manifests.js';
import { groupLag, type WatchedGroup } from './consumer-lag.js';
import { startPipeline } from './pipeline-processes.js';
import { residentBytes } from './process-memory.js';
import type { SoakReport, SoakSample } from './soak-report.js';
import { startSteadyLoad } from './steady-load.js';
import { fitTrend, judgeLag, judgeRss, type SoakLimits } from './trend.js';

export interface SoakOptions {
  minutes: number;
  ratePerSec: number;
  workers: number;
  sampleSeconds: number;
  /** Samples before this many seconds are plotted but not fitted (start-up, JIT, catching up). */
  warmupSeconds: number;
  limits: SoakLimits;
  /** Called with each sample as it is taken (progress for a person watching). */
  onSample?: (sample: SoakSample) => void;
}

const MiB = 2 ** 20;
const LOAD_GENERATOR = 'load generator';
/** Relative deadlines of the soak's classes: well within what a loaded 2-core machine answers. */
const CLASSES = { interactive: 2_000, batch: 10_000 } as const;

const quantile = (sorted: readonly number[], q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);

/** Answers one request end to end, retrying until the pipeline serves (workers joined, manifests read). */
async function untilServing(infer: () => Promise<unknown>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await infer();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new GpuflowError(`the pipeline did not serve a request within ${timeoutMs / 1000} s`, { cause: error });
      if (!(error instanceof RequestRejectedError)) await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export async function runSoak(config: Config, kafka: Kafka, registry: RegistryClient, logger: Logger, options: SoakOptions): Promise<SoakReport> {
  const runId = randomUUID().slice(0, 6);
  const producer = await createProducer(kafka);
  await publishManifest(producer, registry, DEMO_MANIFEST);
  await producer.disconnect();

  const admin = kafka.admin();
  await admin.connect();
  const pipeline = await startPipeline({ runId, workers: options.workers, env: { ...process.env, GPUFLOW_LOG: process.env.GPUFLOW_LOG ?? 'warn' } });
  const client = await createClient(config, logger);
  try {
    const watched: WatchedGroup[] = [
      { groupId: `${pipeline.dispatcherGroup}.inference.requests`, topic: 'inference.requests' },
      { groupId: `${pipeline.dispatcherGroup}.worker.reports`, topic: 'worker.reports' },
      ...pipeline.workerIds.map((id) => ({ groupId: `gpuflow-worker-${id}`, topic: 'inference.batches' })),
      { groupId: pipeline.projectorGroup, topic: 'inference.results' },
      { groupId: pipeline.projectorGroup, topic: 'scheduler.events' },
    ];
    const label = (g: WatchedGroup): string => `${g.groupId.replace(`-${runId}`, '')} on ${g.topic}`;
    const tensor = loadTensor(DEMO_MANIFEST.inputShape[0]!);
    const probe = { model: DEMO_MANIFEST.model, tenant: 'soak', sloClass: 'batch' as const, deadlineMs: 10_000 };
    await untilServing(() => client.infer({ ...probe, tensor: tensor({} as never, 0) }), 120_000);
    // Baselines after the probe: each group has started by now, at the end or at its commits.
    const baselines = new Map(await Promise.all(watched.map(async (g) => [g.topic, await endOffsetsWith(admin, g.topic)] as const)));

    const load = startSteadyLoad(client, {
      ratePerSec: options.ratePerSec, model: DEMO_MANIFEST.model, tenants: ['acme', 'globex', 'initech'], classes: CLASSES,
      graceMs: 10_000, seed: 17, tensor: (i) => tensor({} as never, i),
    });
    const samples: SoakSample[] = [];
    const t0 = Date.now();
    const sample = async (): Promise<void> => {
      const rssMiB: Record<string, number> = {};
      for (const p of pipeline.processes) {
        const bytes = residentBytes(p.pid);
        if (bytes !== null) rssMiB[p.name] = bytes / MiB;
      }
      rssMiB[LOAD_GENERATOR] = process.memoryUsage.rss() / MiB;
      const lag: Record<string, number> = {};
      for (const g of watched) lag[label(g)] = await groupLag(admin, g, baselines.get(g.topic)!);
      const latencies = load.drainLatencies().sort((a, b) => a - b);
      const c = load.counters;
      const s: SoakSample = {
        tSec: (Date.now() - t0) / 1000, rssMiB, lag, sent: c.sent, answered: c.ok + c.rejected + c.timedOut + c.failed,
        p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99),
      };
      samples.push(s);
      options.onSample?.(s);
    };
    const endAt = t0 + options.minutes * 60_000;
    while (Date.now() < endAt) {
      await new Promise((r) => setTimeout(r, Math.min(options.sampleSeconds * 1000, Math.max(0, endAt - Date.now()))));
      await sample().catch((error: unknown) => logger.warn('soak.sample_failed', { error }));
    }
    await load.stop();
    const exited = pipeline.processes.filter((p) => p.child.exitCode !== null || p.child.signalCode !== null).map((p) => p.name);

    const steady = samples.filter((s) => s.tSec >= options.warmupSeconds);
    const series = (pick: (s: SoakSample) => number | undefined): [number, number][] =>
      steady.flatMap((s) => {
        const v = pick(s);
        return v === undefined ? [] : [[s.tSec, v] as [number, number]];
      });
    const last = samples.at(-1);
    const memory = pipeline.processes.map((p) => judgeRss(p.name, fitTrend(series((s) => s.rssMiB[p.name])), last?.rssMiB[p.name] ?? 0, options.limits));
    const loadGeneratorRss = judgeRss(LOAD_GENERATOR, fitTrend(series((s) => s.rssMiB[LOAD_GENERATOR])), last?.rssMiB[LOAD_GENERATOR] ?? 0, options.limits);
    const lag = watched.map((g) => judgeLag(label(g), fitTrend(series((s) => s.lag[label(g)])), last?.lag[label(g)] ?? 0, options.limits));
    const c = load.counters;
    const reasons = [
      ...exited.map((name) => `${name} exited during the soak`),
      ...(steady.length < 3 ? [`only ${steady.length} samples after the warm-up: too few to fit a trend`] : []),
      ...[...memory, ...lag].filter((v) => !v.ok).map((v) => v.reason),
    ];
    return {
      name: 'soak',
      params: { minutes: options.minutes, ratePerSec: options.ratePerSec, sampleSeconds: options.sampleSeconds, warmupSeconds: options.warmupSeconds, workers: options.workers, limits: options.limits },
      machine: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; simulated devices`,
      startedAt: new Date(t0).toISOString(),
      requests: {
        sent: c.sent, ok: c.ok, rejected: c.rejected, timedOut: c.timedOut, failed: c.failed, duplicatesDropped: client.stats.duplicates,
        topReasons: [...c.reasons].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([reason, count]) => ({ reason, count })),
      },
      memory,
      loadGeneratorRss,
      lag,
      ok: reasons.length === 0,
      reasons,
      samples,
    };
  } finally {
    await client.close();
    await pipeline.stop();
    await admin.disconnect();
    await dropReadModels(config.redisUrl, pipeline.projectorPrefix).catch((error: unknown) => logger.warn('soak.read_models_left', { prefix: pipeline.projectorPrefix, error }));
  }
}

/** The soak's projector kept its read models under a prefix of its own; they go with the run. */
async function dropReadModels(redisUrl: string, prefix: string): Promise<void> {
  const redis = connectRedis(redisUrl, 0);
  await redis.connect();
  try {
    const keys = [...(await dumpProjections(redis, prefix)).keys()];
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}
