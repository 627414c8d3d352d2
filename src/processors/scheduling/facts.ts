import type { DecisionContext, SchedulerEvent } from '../../domain/events/scheduler.js';
import type { QueuedBatch } from './records.js';
import type { TopologyLink } from './topology.js';

/**
 * Observations the scheduler folds into its state besides its decisions: what a heartbeat,
 * a telemetry sample or an alert told it, and the batches it holds. They make the state a
 * pure fold of facts (so `evolve` over the recorded facts rebuilds it), but they are not
 * decisions: only the SchedulerEvent ones go to scheduler.events (see `isDecision`).
 */
export type Observation = WorkerObserved | TelemetryObserved | OomAlertObserved | BatchQueued | ResultDiscarded;

/** Everything `decide` returns and `evolve` folds. */
export type SchedulerFact = SchedulerEvent | Observation;

export interface ObservedDevice {
  uuid: string;
  index: number;
  memTotalBytes: number;
}

/** A live worker's heartbeat: last seen, devices, loaded models, slots and topology. */
export interface WorkerObserved extends DecisionContext {
  type: 'WorkerObserved';
  workerId: string;
  workerEpoch: number;
  node: string;
  devices: ObservedDevice[];
  loadedModels: string[];
  slots: number;
  topology: TopologyLink[];
}

export interface TelemetryObserved extends DecisionContext {
  type: 'TelemetryObserved';
  deviceUuid: string;
  freeBytes: number;
  sampleAtMs: number;
}

/** An out-of-memory alert started (active) or ended on a device. */
export interface OomAlertObserved extends DecisionContext {
  type: 'OomAlertObserved';
  deviceUuid: string;
  active: boolean;
}

/** A batch entered the pending queue (its members after admission). */
export interface BatchQueued extends DecisionContext {
  type: 'BatchQueued';
  batch: QueuedBatch;
}

/**
 * A worker's result that must not be delivered: it comes from an evicted incarnation, or for
 * a batch that was requeued, completed or never assigned to it. The shell drops the result.
 */
export interface ResultDiscarded extends DecisionContext {
  type: 'ResultDiscarded';
  batchId: string;
  workerId: string;
  workerEpoch: number;
  outcome: 'COMPLETED' | 'FAILED';
  reason: string;
}

const OBSERVATION_TYPES: ReadonlySet<string> = new Set<Observation['type']>([
  'WorkerObserved',
  'TelemetryObserved',
  'OomAlertObserved',
  'BatchQueued',
  'ResultDiscarded',
]);

/** True for the facts that are scheduler.events decisions. */
export function isDecision(fact: SchedulerFact): fact is SchedulerEvent {
  return !OBSERVATION_TYPES.has(fact.type);
}
