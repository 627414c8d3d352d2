/**
 * A discrete-event simulation of the dispatcher and a simulated fleet in virtual time: recorded
 * requests arrive when they reached the dispatcher; the dispatcher's own deciders (dispatch-core,
 * the same wiring replay verifies) batch and place them; each simulated worker runs an assigned
 * batch for the fitted service time `dispatchMs` after its assignment, answers (client and
 * dispatcher alike) `returnMs` after it finished, heartbeats its free
 * slots, and stops heartbeating when the recorded worker did (so a worker that died in the
 * recording dies here too, and its batches wait for the scheduler's liveness timeout).
 */
import type { DeviceInfo, InferenceRequest, ModelManifest, SchedulerEvent } from '../domain/events/index.js';
import type { QueuePolicy } from '../processors/batching/queue-policy.js';
import type { SchedulerConfig } from '../processors/scheduling/config.js';
import { createDispatchCore, type CoreInput } from '../replay/dispatch-core.js';
import { serviceMs, type ServiceFit } from './latency-fit.js';
import { SimEventQueue } from './sim-event-queue.js';

export interface SimWorker {
  workerId: string;
  devices: DeviceInfo[];
  slots: number;
  /** Heartbeats from `aliveFromMs` until `aliveToMs` (Infinity: throughout). */
  aliveFromMs: number;
  aliveToMs: number;
}

export interface SimulationInput {
  startMs: number;
  /** No event after this time is simulated (requests still open then count as unanswered). */
  endMs: number;
  manifests: readonly ModelManifest[];
  /** Models retired, and when (one before the start applies from the start). */
  retirements?: readonly { atMs: number; model: string }[];
  /** In arrival order; `atMs` is when the dispatcher took the request. */
  requests: readonly { atMs: number; request: InferenceRequest }[];
  workers: readonly SimWorker[];
  fits: ReadonlyMap<string, ServiceFit>;
  /** Service time of a model without a fit. */
  fallbackFit: ServiceFit;
  /** From assignment to the worker starting the batch, ms (the recorded median). */
  dispatchMs: number;
  /** From the worker finishing a batch to its answer and report arriving, ms (the recorded median). */
  returnMs: number;
  heartbeatMs: number;
  tickMs: number;
  queuePolicy: Partial<QueuePolicy>;
  scheduler: Partial<SchedulerConfig>;
}

export type OutcomeStatus = 'OK' | 'REJECTED' | 'UNANSWERED';

export interface RequestOutcome {
  requestId: string;
  sloClass: string;
  status: OutcomeStatus;
  /** From submission to the answer (unanswered: to the end of the range). */
  latencyMs: number;
  /** Answered OK by its deadline. */
  inTime: boolean;
}

export interface SimulationResult {
  outcomes: RequestOutcome[];
  /** Size of every batch that ran. */
  batchSizes: number[];
  decisions: number;
}

type SimEvent =
  | { kind: 'input'; input: CoreInput }
  | { kind: 'heartbeat'; worker: SimWorker }
  | { kind: 'tick' }
  | { kind: 'finished'; worker: SimWorker }
  | { kind: 'done'; worker: SimWorker; batchId: string; model: string; modelVersion: string; batchSize: number; serviceUs: number; finishedAtMs: number };

/** A scheduled event; `seq` keeps events of equal time in the order they were scheduled. */
interface Timed {
  at: number;
  seq: number;
  event: SimEvent;
}

export function simulate(input: SimulationInput): SimulationResult {
  const events = new SimEventQueue<Timed>();
  let seq = 0;
  const queue = { push: (at: number, event: SimEvent): void => events.push({ at, seq: seq++, event }) };
  const requests = new Map(input.requests.map((r) => [r.request.requestId, r.request]));
  const outcomes = new Map<string, RequestOutcome>();
  const formed = new Map<string, string[]>();
  const inFlight = new Map<string, number>();
  const batchSizes: number[] = [];
  let decisions = 0;
  let reportSeq = 0;
  let now = input.startMs;
  const models = input.manifests.map((m) => m.model);

  const answer = (requestId: string, status: OutcomeStatus, atMs: number): void => {
    const request = requests.get(requestId);
    if (!request || outcomes.has(requestId)) return;
    outcomes.set(requestId, { requestId, sloClass: request.sloClass, status, latencyMs: atMs - request.submittedAtMs, inTime: status === 'OK' && atMs <= request.deadlineMs });
  };

  const onDecision = (event: SchedulerEvent): void => {
    decisions++;
    switch (event.type) {
      case 'BatchFormed':
        formed.set(event.batchId, event.requestIds);
        break;
      case 'RequestRejected':
        answer(event.requestId, 'REJECTED', event.atMs);
        break;
      case 'BatchAssigned': {
        const worker = input.workers.find((w) => w.workerId === event.workerId);
        const members = formed.get(event.batchId) ?? [];
        // A batch sent to a worker that is gone is never run: the scheduler's liveness timeout requeues it.
        if (!worker || event.atMs >= worker.aliveToMs || members.length === 0) break;
        inFlight.set(worker.workerId, (inFlight.get(worker.workerId) ?? 0) + 1);
        const ms = serviceMs(input.fits, event.model, members.length, input.fallbackFit);
        const finishedAtMs = event.atMs + input.dispatchMs + ms;
        const request = requests.get(members[0]!);
        queue.push(finishedAtMs, { kind: 'finished', worker });
        queue.push(finishedAtMs + input.returnMs, {
          kind: 'done', worker, batchId: event.batchId, model: event.model, modelVersion: request?.modelVersion ?? '', batchSize: members.length, serviceUs: Math.round(ms * 1000), finishedAtMs,
        });
        break;
      }
      default:
        break;
    }
  };

  const core = createDispatchCore({ startMs: input.startMs, queuePolicy: input.queuePolicy, scheduler: input.scheduler, onDecision });
  input.manifests.forEach((manifest, i) => core.apply({ atMs: input.startMs, input: { kind: 'manifest', ref: `sim.manifests:0:${i}`, manifest } }));
  (input.retirements ?? []).forEach((r, i) => queue.push(r.atMs, { kind: 'input', input: { kind: 'retired', ref: `sim.retirements:0:${i}`, model: r.model } }));
  input.requests.forEach((r, i) => queue.push(r.atMs, { kind: 'input', input: { kind: 'request', ref: `sim.requests:0:${i}`, request: r.request } }));
  for (const worker of input.workers) queue.push(Math.max(input.startMs, worker.aliveFromMs), { kind: 'heartbeat', worker });
  queue.push(input.startMs + input.tickMs, { kind: 'tick' });

  try {
    for (;;) {
      const next = events.peek();
      const wake = core.nextWakeMs();
      if (wake !== undefined && (next === undefined || wake <= next.at)) {
        now = Math.max(now, wake);
        if (now > input.endMs) break;
        core.apply({ atMs: now, wake: true });
        continue;
      }
      if (next === undefined || next.at > input.endMs) break;
      events.pop();
      now = Math.max(now, next.at);
      const event = next.event;
      switch (event.kind) {
        case 'input':
          core.apply({ atMs: now, input: event.input });
          break;
        case 'tick':
          core.apply({ atMs: now, input: { kind: 'tick', ref: `tick:${now}` } });
          queue.push(now + input.tickMs, { kind: 'tick' });
          break;
        case 'heartbeat': {
          const { worker } = event;
          if (now >= worker.aliveToMs) break;
          const busy = inFlight.get(worker.workerId) ?? 0;
          core.apply({
            atMs: now,
            input: {
              kind: 'heartbeat', ref: `sim.heartbeats:0:${worker.workerId}:${now}`,
              heartbeat: { workerId: worker.workerId, epoch: 1, node: 'simulated', timestampMs: now, devices: worker.devices, loadedModels: models, inFlightBatches: busy, capacity: Math.max(0, worker.slots - busy) },
            },
          });
          queue.push(now + input.heartbeatMs, { kind: 'heartbeat', worker });
          break;
        }
        case 'finished':
          inFlight.set(event.worker.workerId, Math.max(0, (inFlight.get(event.worker.workerId) ?? 1) - 1));
          break;
        case 'done': {
          const { worker } = event;
          if (event.finishedAtMs >= worker.aliveToMs) break;
          batchSizes.push(event.batchSize);
          for (const id of formed.get(event.batchId) ?? []) answer(id, 'OK', now);
          core.apply({
            atMs: now,
            input: {
              kind: 'report', ref: `sim.reports:0:${reportSeq++}`,
              report: {
                type: 'BatchDone', batchId: event.batchId, model: event.model, modelVersion: event.modelVersion, workerId: worker.workerId, workerEpoch: 1, deviceUuid: worker.devices[0]?.uuid ?? '',
                batchSize: event.batchSize, serviceTimeUs: event.serviceUs, transferUs: 0, computeUs: event.serviceUs, timestampMs: event.finishedAtMs,
              },
            },
          });
          break;
        }
      }
    }
  } finally {
    core.close();
  }
  for (const id of requests.keys()) answer(id, 'UNANSWERED', Math.max(now, input.endMs));
  return { outcomes: [...outcomes.values()], batchSizes, decisions };
}
