/**
 * The autoscaling signal from the read models: for every model and SLO class that has seen
 * requests, the load `desiredWorkers` needs — arrival rate over the last 30 s of submissions,
 * slot time per request over the last 5 minutes of batches (all batches when none are that
 * recent), requests waiting, the class's mean relative deadline — and the slots per worker that
 * the live workers report.
 */
import { desiredWorkers, DEFAULT_SCALING_POLICY, type ClassLoad, type ScalingPolicy } from '../processors/autoscaling/desired-workers.js';
import { isWorkerDoc, type ClusterDoc } from './cluster.js';
import { ARRIVAL_BUCKETS, isArrivalsDoc, isServiceDoc, SERVICE_BUCKETS, type LoadDoc } from './load.js';
import type { Docs } from './projection.js';
import { isDepthDoc, type QueueDoc } from './queues.js';
import { sumSince } from './time-buckets.js';

export const ARRIVAL_RATE_WINDOW_MS = 30_000;
export const SERVICE_TIME_WINDOW_MS = 300_000;

export interface ClassSignal {
  model: string;
  sloClass: string;
  load: ClassLoad;
  desired: number;
}

/** Batches a live worker runs at once (its free slots plus those busy), averaged; 1 with no live worker. */
export function slotsPerWorker(cluster: Docs<ClusterDoc>, nowMs: number, staleAfterMs: number): number {
  const slots: number[] = [];
  for (const [id, d] of cluster) {
    if (!isWorkerDoc(id, d) || !d.heartbeat || nowMs - d.heartbeat.timestampMs > staleAfterMs) continue;
    if (d.evictedEpoch >= d.epoch && d.evictedEpoch > 0) continue;
    slots.push(d.heartbeat.capacity + d.heartbeat.inFlightBatches);
  }
  const mean = slots.reduce((a, b) => a + b, 0) / (slots.length || 1);
  return Math.max(1, mean);
}

export function scalingSignals(
  load: Docs<LoadDoc>,
  queues: Docs<QueueDoc>,
  cluster: Docs<ClusterDoc>,
  nowMs: number,
  staleAfterMs: number,
  policy: Omit<ScalingPolicy, 'slotsPerWorker'> = DEFAULT_SCALING_POLICY,
): ClassSignal[] {
  const serviceSec = new Map<string, number>();
  for (const [id, d] of load) {
    if (!isServiceDoc(id, d)) continue;
    const { sums } = sumSince(d.recent, nowMs, SERVICE_TIME_WINDOW_MS, SERVICE_BUCKETS, 3);
    const [requests, busyUs] = sums[1]! > 0 ? [sums[1]!, sums[2]!] : [d.requests, d.busyUs];
    serviceSec.set(d.model, requests > 0 ? busyUs / requests / 1e6 : 0);
  }
  const waiting = new Map<string, number>();
  for (const [id, d] of queues) if (isDepthDoc(id, d)) waiting.set(`${d.model}\u0000${d.sloClass}`, d.waiting);
  const slots = slotsPerWorker(cluster, nowMs, staleAfterMs);
  const signals: ClassSignal[] = [];
  for (const [id, d] of load) {
    if (!isArrivalsDoc(id, d)) continue;
    const { sums, spanMs } = sumSince(d.perSecond, nowMs, ARRIVAL_RATE_WINDOW_MS, ARRIVAL_BUCKETS, 1);
    const classLoad: ClassLoad = {
      arrivalRatePerSec: sums[0]! / (spanMs / 1000),
      serviceTimeSec: serviceSec.get(d.model) ?? 0,
      queueDepth: Math.max(0, waiting.get(`${d.model}\u0000${d.sloClass}`) ?? 0),
      deadlineSec: d.requests > 0 ? d.deadlineMsTotal / d.requests / 1000 : 0,
    };
    signals.push({ model: d.model, sloClass: d.sloClass, load: classLoad, desired: desiredWorkers(classLoad, { ...policy, slotsPerWorker: slots }) });
  }
  return signals.sort((a, b) => (a.model === b.model ? (a.sloClass < b.sloClass ? -1 : 1) : a.model < b.model ? -1 : 1));
}
