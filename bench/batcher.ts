/**
 * `npm run bench -- batcher`: gpuflow's batcher (decider + RxJS operator) against what a user
 * would otherwise write in RxJS, groupBy(model) + bufferTime(maxDelay, null, maxSize) with a FIFO
 * dispatch queue in front of the GPUs, on one bursty trace with mixed SLO classes and deadlines,
 * on the simulated cluster and latency model, in virtual time (a discrete-event loop). Both use
 * the same manifest: max batch 64, max queue delay 5 ms.
 *
 * Throughput is requests completed (in time or late) per second from the first arrival to the
 * last completion; attainment is the share of all requests completed by their deadline
 * (rejections count as misses). Goodput (completed by deadline per second of trace) is reported
 * beside them.
 */
import { CLUSTER, MODELS, SCENARIO_PARAMS, traceOptions } from './lib/batching-scenario.js';
import { bufferTimePolicy, gpuflowPolicy } from './lib/batching-policies.js';
import { simulate } from './lib/batching-sim.js';
import { generateTrace } from './lib/traces.js';
import { row, type BenchRow } from './result.js';

const MAX_QUEUE_DELAY_MS = 5;
const MAX_BATCH = 64;
/** Mean offered load: 1,500 req/s, bursts at 4,500 req/s, above what 5 ms windows can batch. */
const MEAN_RATE_PER_SEC = 1_500;

export async function run(args: string[]): Promise<BenchRow[]> {
  const durationMs = args.includes('--quick') ? 5_000 : 30_000;
  const trace = generateTrace(traceOptions('bursty', MEAN_RATE_PER_SEC, durationMs, 7));
  const ours = simulate(gpuflowPolicy({ models: MODELS, device: CLUSTER.device, gpus: CLUSTER.gpus, maxQueueDelayMs: MAX_QUEUE_DELAY_MS }), trace, CLUSTER);
  const baseline = simulate(bufferTimePolicy({ maxDelayMs: MAX_QUEUE_DELAY_MS, maxSize: MAX_BATCH }), trace, CLUSTER);
  const baselineName = `rxjs groupBy(model) + bufferTime(${MAX_QUEUE_DELAY_MS}, null, ${MAX_BATCH}) + FIFO dispatch`;
  const params = {
    trace: 'bursty (MMPP: 0.5x quiet, 3x bursts)',
    meanRatePerSec: MEAN_RATE_PER_SEC,
    durationMs,
    requests: trace.length,
    ...SCENARIO_PARAMS,
    maxQueueDelayMs: MAX_QUEUE_DELAY_MS,
    maxBatchSize: MAX_BATCH,
    virtualTime: true,
  };
  const extra = {
    gpuflow: ours,
    bufferTime: baseline,
    goodputRatio: Number((ours.goodputPerSec / Math.max(1e-9, baseline.goodputPerSec)).toFixed(3)),
  };
  return [
    row({
      name: 'batcher throughput on a bursty trace (completed req/s)',
      unit: 'req/s',
      ours: Number(ours.throughputPerSec.toFixed(1)),
      baseline: { name: baselineName, value: Number(baseline.throughputPerSec.toFixed(1)) },
      higherIsBetter: true,
      headline: true,
      params,
      extra,
    }),
    row({
      name: 'batcher SLO attainment on a bursty trace (% of requests completed by deadline)',
      unit: '%',
      ours: Number((ours.attainment * 100).toFixed(2)),
      baseline: { name: baselineName, value: Number((baseline.attainment * 100).toFixed(2)) },
      higherIsBetter: true,
      params,
      extra: { differencePercentagePoints: Number(((ours.attainment - baseline.attainment) * 100).toFixed(2)), byClass: { gpuflow: ours.attainmentByClass, bufferTime: baseline.attainmentByClass } },
    }),
  ];
}
