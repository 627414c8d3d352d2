/**
 * What a recorded range says, as the what-if simulation needs it: how each request fared (from the
 * decisions and the workers' reports), how long an assigned batch took to reach its worker
 * and back, and which workers there were, with how many slots, and when they stopped heartbeating.
 */
import { median } from 'simple-statistics';
import type { Heartbeat, InferenceRequest, SchedulerEvent, WorkerReport } from '../domain/events/index.js';
import type { RequestOutcome } from './fleet-sim.js';
import type { SimWorker } from './fleet-sim.js';

/**
 * Outcome of each request as recorded: OK when its batch's BatchDone report came (answered at the
 * report's time), REJECTED at its RequestRejected decision, UNANSWERED when neither is in the log.
 */
export function recordedOutcomes(requests: readonly InferenceRequest[], decisions: readonly SchedulerEvent[], reports: readonly WorkerReport[], endMs: number): RequestOutcome[] {
  const batchOf = new Map<string, string>();
  const rejectedAt = new Map<string, number>();
  for (const d of decisions) {
    if (d.type === 'BatchFormed') for (const id of d.requestIds) batchOf.set(id, d.batchId);
    else if (d.type === 'RequestRejected' && !rejectedAt.has(d.requestId)) rejectedAt.set(d.requestId, d.atMs);
  }
  const doneAt = new Map<string, number>();
  for (const r of reports) if (r.type === 'BatchDone' && !doneAt.has(r.batchId)) doneAt.set(r.batchId, r.timestampMs);
  return requests.map((request) => {
    const rejected = rejectedAt.get(request.requestId);
    const batchId = batchOf.get(request.requestId);
    const done = batchId === undefined ? undefined : doneAt.get(batchId);
    const base = { requestId: request.requestId, sloClass: request.sloClass };
    if (rejected !== undefined && (done === undefined || rejected <= done)) return { ...base, status: 'REJECTED', latencyMs: rejected - request.submittedAtMs, inTime: false };
    if (done !== undefined) return { ...base, status: 'OK', latencyMs: done - request.submittedAtMs, inTime: done <= request.deadlineMs };
    return { ...base, status: 'UNANSWERED', latencyMs: endMs - request.submittedAtMs, inTime: false };
  });
}

/** The two Kafka hops around a batch's run, medians over the recorded batches, ms (0 when unknown). */
export interface Hops {
  /** From assignment to the worker starting the batch (report time less service time). */
  dispatchMs: number;
  /** From the worker finishing to the dispatcher deciding BatchCompleted (the slot is busy until then). */
  returnMs: number;
}

export function estimateHops(decisions: readonly SchedulerEvent[], reports: readonly WorkerReport[]): Hops {
  const assignedAt = new Map<string, number>();
  const completedAt = new Map<string, number>();
  for (const d of decisions) {
    if (d.type === 'BatchAssigned') assignedAt.set(d.batchId, d.atMs);
    else if (d.type === 'BatchCompleted' && !completedAt.has(d.batchId)) completedAt.set(d.batchId, d.atMs);
  }
  const there: number[] = [];
  const back: number[] = [];
  for (const r of reports) {
    if (r.type !== 'BatchDone') continue;
    const assigned = assignedAt.get(r.batchId);
    const completed = completedAt.get(r.batchId);
    if (assigned !== undefined) there.push(Math.max(0, r.timestampMs - r.serviceTimeUs / 1000 - assigned));
    if (completed !== undefined) back.push(Math.max(0, completed - r.timestampMs));
  }
  return { dispatchMs: there.length > 0 ? median(there) : 0, returnMs: back.length > 0 ? median(back) : 0 };
}

export interface RecordedFleet {
  workers: SimWorker[];
  /** Median gap between a worker's heartbeats, ms. */
  heartbeatMs: number;
}

/**
 * The workers seen heartbeating (`atMs`: when the dispatcher took the heartbeat). Slots are the
 * most a worker ever offered (capacity + in flight). A worker whose heartbeats stop more than two
 * periods before the range ends is taken to have died one period after its last heartbeat.
 */
export function fleetOf(heartbeats: readonly { atMs: number; heartbeat: Heartbeat }[], endMs: number): RecordedFleet {
  const byWorker = new Map<string, { atMs: number; heartbeat: Heartbeat }[]>();
  for (const h of heartbeats) {
    let list = byWorker.get(h.heartbeat.workerId);
    if (!list) byWorker.set(h.heartbeat.workerId, (list = []));
    list.push(h);
  }
  const allGaps: number[] = [];
  for (const list of byWorker.values()) for (let i = 1; i < list.length; i++) allGaps.push(list[i]!.atMs - list[i - 1]!.atMs);
  const heartbeatMs = allGaps.length > 0 ? Math.max(1, median(allGaps)) : 1_000;
  const workers = [...byWorker].map(([workerId, list]): SimWorker => {
    const last = list[list.length - 1]!;
    const died = last.atMs + 2 * heartbeatMs < endMs;
    return {
      workerId,
      devices: last.heartbeat.devices.map((d) => ({ ...d })),
      slots: Math.max(1, ...list.map((h) => h.heartbeat.capacity + h.heartbeat.inFlightBatches)),
      aliveFromMs: list[0]!.atMs,
      aliveToMs: died ? last.atMs + heartbeatMs : Infinity,
    };
  });
  workers.sort((a, b) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0));
  return { workers, heartbeatMs };
}
