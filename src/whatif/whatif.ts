/**
 * The what-if comparison: the recorded outcome of a range, the same range simulated with the
 * recorded configuration (the baseline, which shows how far the simulation is from the recording),
 * and simulated with the policy's configuration (the alternative). The improvement a policy
 * promises is alternative against baseline: both run on the same fitted fleet, so the
 * simulation's own error cancels out.
 */
import { summarise, type ClassSummary, type Outcome } from '../client/summary.js';
import type { Heartbeat, InferenceRequest, ModelManifest, SchedulerEvent, WorkerReport } from '../domain/events/index.js';
import type { JournalStarted } from '../replay/journal.js';
import { simulate, type RequestOutcome, type SimWorker } from './fleet-sim.js';
import { fitServiceTimes, type ServiceFit } from './latency-fit.js';
import type { WhatIfPolicy } from './policy.js';
import { estimateHops, fleetOf, recordedOutcomes, type Hops } from './recording.js';

/** Everything read from the log for one range. */
export interface Recording {
  window: { fromMs: number; toMs: number };
  started: JournalStarted;
  /** The latest manifest of each model as of the range's end. */
  manifests: ModelManifest[];
  /** Models retired since their latest manifest, and when. */
  retirements: { atMs: number; model: string }[];
  /** Requests the dispatcher took within the range, with when. */
  requests: { atMs: number; request: InferenceRequest }[];
  heartbeats: { atMs: number; heartbeat: Heartbeat }[];
  decisions: SchedulerEvent[];
  reports: WorkerReport[];
}

export interface Scenario {
  name: string;
  outcomes: RequestOutcome[];
  batchSizes: number[];
  summary: ClassSummary[];
}

export interface WhatIfResult {
  window: { fromMs: number; toMs: number };
  policy: WhatIfPolicy;
  fits: ServiceFit[];
  hops: Hops;
  workers: SimWorker[];
  recorded: Scenario;
  baseline: Scenario;
  alternative: Scenario;
}

/** Used for a model no recorded batch measured: the batcher's own default prior. */
const UNMEASURED: ServiceFit = { model: '(unmeasured)', interceptMs: 5, perSampleMs: 0.5, samples: 0, r2: NaN, flat: true };

const asClientOutcome = (o: RequestOutcome): Outcome => ({ sloClass: o.sloClass, status: o.status === 'UNANSWERED' ? 'TIMEOUT' : o.status, latencyMs: o.latencyMs, inTime: o.inTime });

function scenario(name: string, outcomes: RequestOutcome[], batchSizes: number[]): Scenario {
  return { name, outcomes, batchSizes, summary: summarise(outcomes.map(asClientOutcome)) };
}

/** Recorded batch sizes: every batch formed in the range. */
const formedSizes = (decisions: readonly SchedulerEvent[]): number[] => decisions.flatMap((d) => (d.type === 'BatchFormed' ? [d.requestIds.length] : []));

export function whatIf(recording: Recording, policy: WhatIfPolicy): WhatIfResult {
  const { window, started } = recording;
  const fits = fitServiceTimes(recording.reports);
  const hops = estimateHops(recording.decisions, recording.reports);
  const fleet = fleetOf(recording.heartbeats, window.toMs);
  const longestDeadline = Math.max(0, ...recording.requests.map((r) => r.request.deadlineMs - r.request.submittedAtMs));
  const endMs = window.toMs + longestDeadline + 1_000;
  const common = {
    startMs: window.fromMs, endMs, requests: recording.requests, fits, fallbackFit: UNMEASURED, dispatchMs: hops.dispatchMs, returnMs: hops.returnMs,
    heartbeatMs: fleet.heartbeatMs, tickMs: started.tickMs, retirements: recording.retirements,
  };
  const baseline = simulate({ ...common, manifests: recording.manifests, workers: fleet.workers, queuePolicy: started.queuePolicy, scheduler: started.scheduler });
  const alternativeWorkers = policy.fleet.workers !== undefined && fleet.workers[0] !== undefined
    ? Array.from({ length: policy.fleet.workers }, (_, i): SimWorker => ({ ...fleet.workers[0]!, workerId: `whatif-worker-${i + 1}`, devices: fleet.workers[0]!.devices.map((d) => ({ ...d, uuid: `${d.uuid}-whatif-${i + 1}` })), aliveFromMs: window.fromMs, aliveToMs: Infinity }))
    : fleet.workers;
  const alternative = simulate({
    ...common,
    manifests: recording.manifests.map((m) => ({ ...m, ...policy.manifests[m.model] })),
    workers: alternativeWorkers.map((w) => ({ ...w, slots: policy.fleet.slots ?? w.slots })),
    queuePolicy: { ...started.queuePolicy, ...policy.batcher },
    scheduler: { ...started.scheduler, ...policy.scheduler },
  });
  const ids = new Set(recording.requests.map((r) => r.request.requestId));
  const recordedDecisions = recording.decisions.filter((d) => d.type !== 'BatchFormed' || d.requestIds.some((id) => ids.has(id)));
  return {
    window, policy, hops, workers: fleet.workers, fits: [...fits.values()],
    recorded: scenario('recorded', recordedOutcomes(recording.requests.map((r) => r.request), recording.decisions, recording.reports, endMs), formedSizes(recordedDecisions)),
    baseline: scenario('simulated, recorded policy', baseline.outcomes, baseline.batchSizes),
    alternative: scenario(`simulated, ${policy.name}`, alternative.outcomes, alternative.batchSizes),
  };
}

/** Share of all requests answered OK within their deadline. */
export function attainment(s: Scenario): number {
  return s.outcomes.length === 0 ? NaN : s.outcomes.filter((o) => o.inTime).length / s.outcomes.length;
}
