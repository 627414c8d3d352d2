import type { Decider } from '../../domain/decider.js';
import { deadlineMiss, earliestCompletionMs } from './admission.js';
import { applyFact } from './apply.js';
import { schedulerConfig, type SchedulerConfig } from './config.js';
import { Decision } from './decision.js';
import type { SchedulerFact } from './facts.js';
import type { BatchCompletedReceived, BatchFailedReceived, ReadyBatch, SchedulerInput } from './inputs.js';
import { evictOverdue, onHeartbeat, staleResultReason } from './membership.js';
import { batchNeedBytes, choosePlacement, HeapDeviceIndex, type DeviceIndex } from './placement.js';
import type { BatchMemberRef, QueuedBatch } from './records.js';
import { SchedulerState } from './state.js';

export interface SchedulerOptions {
  config?: Partial<SchedulerConfig>;
  /** How eligible devices are indexed; the heap index unless a benchmark compares another. */
  index?: () => DeviceIndex;
}

/**
 * The scheduler as a decider. Every input first checks liveness at `now`, then applies its
 * own rule, then offers capacity to pending batches in priority order. A batch that fits
 * nowhere waits in the state and is placed on a later input that frees capacity (a completion,
 * a joining worker, a cleared alert, more free memory).
 *
 * decide never changes the state (it works on a Draft); evolve folds one fact into the state
 * in place (see SchedulerState). The facts are the domain's SchedulerEvent decisions plus the
 * scheduler's observations (facts.ts).
 */
export function createScheduler(options: SchedulerOptions = {}): Decider<SchedulerState, SchedulerInput, SchedulerFact> & { config: SchedulerConfig } {
  const config = schedulerConfig(options.config);
  const index = options.index ?? (() => new HeapDeviceIndex());
  return {
    config,
    initialState: () => new SchedulerState(index()),
    decide: (state, input, now) => {
      const d = new Decision(state, config, now, input.inputRef);
      evictOverdue(d);
      apply(d, input);
      placePending(d);
      return d.facts;
    },
    evolve: (state, fact) => {
      applyFact(state, fact, config);
      return state;
    },
  };
}

function apply(d: Decision, input: SchedulerInput): void {
  switch (input.type) {
    case 'HeartbeatReceived':
      onHeartbeat(d, input.heartbeat, input.topology);
      return;
    case 'TelemetryReceived': {
      const { sample } = input;
      const known = d.view.samples.get(sample.deviceUuid);
      if (known && known.freeBytes === sample.memFreeBytes) return;
      d.emit({ type: 'TelemetryObserved', atMs: d.now, inputs: d.inputs, deviceUuid: sample.deviceUuid, freeBytes: sample.memFreeBytes, sampleAtMs: sample.timestampMs });
      return;
    }
    case 'AnomalyReceived': {
      const { alert } = input;
      if (alert.kind !== 'OOM_RISK') return;
      const active = alert.state === 'RAISED';
      if (active === (d.view.oomAlerts.get(alert.deviceUuid) === true)) return;
      d.emit({ type: 'OomAlertObserved', atMs: d.now, inputs: d.inputs, deviceUuid: alert.deviceUuid, active });
      return;
    }
    case 'BatchReady':
      onBatchReady(d, input.batch);
      return;
    case 'BatchCompleted':
      onCompleted(d, input);
      return;
    case 'BatchFailed':
      onFailed(d, input);
      return;
    case 'Tick':
      for (const batch of d.view.pendingByPriority()) rejectLate(d, batch);
      return;
  }
}

/** Admission of a formed batch: members whose deadline no placement can meet are rejected now. */
function onBatchReady(d: Decision, ready: ReadyBatch): void {
  if (d.view.pending.get(ready.batchId) || d.view.inFlight.get(ready.batchId)) return;
  const earliest = earliestCompletionMs(d.view, d.config, ready.model, ready.modelVersion, ready.members.length, d.now);
  // The members are kept as given (ReadyBatch says why); a rejection makes a new list.
  let admitted: BatchMemberRef[] = ready.members;
  for (let i = 0; i < ready.members.length; i++) {
    const m = ready.members[i] as BatchMemberRef;
    const reason = deadlineMiss(m, earliest, d.now);
    if (reason) {
      if (admitted === ready.members) admitted = ready.members.slice(0, i);
      d.emit({ type: 'RequestRejected', atMs: d.now, inputs: d.inputs, requestId: m.requestId, model: ready.model, tenant: m.tenant, reason, leavesBatch: false });
    } else if (admitted !== ready.members) admitted.push(m);
  }
  if (admitted.length === 0) return;
  const batch: QueuedBatch = {
    batchId: ready.batchId,
    model: ready.model,
    modelVersion: ready.modelVersion,
    memoryPerSampleBytes: ready.memoryPerSampleBytes,
    gpusPerReplica: Math.max(1, ready.gpusPerReplica ?? 1),
    members: admitted,
    attempts: 0,
    queuedAtMs: d.now,
  };
  d.emit({ type: 'BatchQueued', atMs: d.now, inputs: d.inputs, batch });
}

/** Rejects the members of a pending batch that can no longer meet their deadline. */
function rejectLate(d: Decision, batch: QueuedBatch): QueuedBatch | undefined {
  const earliest = earliestCompletionMs(d.view, d.config, batch.model, batch.modelVersion, batch.members.length, d.now);
  for (const m of batch.members) {
    const reason = deadlineMiss(m, earliest, d.now);
    if (reason) d.emit({ type: 'RequestRejected', atMs: d.now, inputs: d.inputs, requestId: m.requestId, model: batch.model, tenant: m.tenant, reason, leavesBatch: true });
  }
  return d.view.pending.get(batch.batchId);
}

function onCompleted(d: Decision, input: BatchCompletedReceived): void {
  const stale = staleResultReason(d, input.batchId, input.workerId, input.workerEpoch);
  if (stale) {
    d.emit({ type: 'ResultDiscarded', atMs: d.now, inputs: d.inputs, batchId: input.batchId, workerId: input.workerId, workerEpoch: input.workerEpoch, outcome: 'COMPLETED', reason: stale });
    return;
  }
  const flight = d.view.inFlight.get(input.batchId);
  d.emit({
    type: 'BatchCompleted',
    atMs: d.now, inputs: d.inputs,
    batchId: input.batchId,
    model: flight?.batch.model ?? '',
    workerId: input.workerId,
    workerEpoch: input.workerEpoch,
    serviceTimeUs: input.serviceTimeUs,
  });
}

/** A failed batch is requeued, until it has used its attempts: then its requests are rejected. */
function onFailed(d: Decision, input: BatchFailedReceived): void {
  const stale = staleResultReason(d, input.batchId, input.workerId, input.workerEpoch);
  const flight = d.view.inFlight.get(input.batchId);
  if (stale || !flight) {
    d.emit({ type: 'ResultDiscarded', atMs: d.now, inputs: d.inputs, batchId: input.batchId, workerId: input.workerId, workerEpoch: input.workerEpoch, outcome: 'FAILED', reason: stale ?? 'not in flight' });
    return;
  }
  const attempt = flight.batch.attempts + 1;
  if (attempt >= d.config.maxAttempts) {
    for (const m of flight.batch.members) {
      d.emit({
        type: 'RequestRejected',
        atMs: d.now, inputs: d.inputs,
        requestId: m.requestId,
        model: flight.batch.model,
        tenant: m.tenant,
        reason: `batch ${input.batchId} failed ${attempt} of ${d.config.maxAttempts} attempts, last on ${input.workerId}: ${input.reason}`,
        leavesBatch: true,
      });
    }
    return;
  }
  d.emit({
    type: 'BatchRequeued',
    atMs: d.now, inputs: d.inputs,
    batchId: input.batchId,
    model: flight.batch.model,
    requestIds: flight.batch.members.map((m) => m.requestId),
    reason: `failed on ${input.workerId} epoch ${input.workerEpoch} (attempt ${attempt} of ${d.config.maxAttempts}): ${input.reason}`,
  });
}

/**
 * Offers capacity to pending batches, most urgent first. Stops after `maxPlacementMisses`
 * batches that fit nowhere, so a long queue costs bounded work per input.
 */
function placePending(d: Decision): void {
  if (d.nothingPending()) return;
  let misses = 0;
  for (const queued of d.view.pendingByPriority()) {
    if (misses >= d.config.maxPlacementMisses) return;
    const batch = rejectLate(d, queued);
    if (!batch) continue;
    const placement = choosePlacement(d.view, batch, d.config);
    if (!placement) {
      misses += 1;
      continue;
    }
    d.emit({
      type: 'BatchAssigned',
      atMs: d.now, inputs: d.inputs,
      batchId: batch.batchId,
      model: batch.model,
      workerId: placement.workerId,
      workerEpoch: placement.workerEpoch,
      deviceUuid: placement.deviceUuids.join(','),
      reservedBytes: batchNeedBytes(batch),
    });
  }
}
