import type { Heartbeat } from '../../domain/events/telemetry.js';
import { byCodeUnits, sortSmall } from './arrays.js';
import type { Decision } from './decision.js';
import type { WorkerRecord } from './records.js';
import { normaliseTopology, type TopologyLink } from './topology.js';

/**
 * Worker membership from heartbeats. A worker joins with its first heartbeat; it is evicted
 * when no heartbeat came within the liveness timeout, or when a heartbeat carries a higher
 * epoch (the process restarted: the old incarnation's batches are lost with it). Evicting
 * requeues its in-flight batches and fences its epoch: heartbeats and results from that
 * incarnation or older are ignored from then on, so a worker that was cut off and comes back
 * must restart with a higher epoch, and its late results are never delivered twice.
 */

/** Evicts every worker whose last heartbeat is older than the liveness timeout. */
export function evictOverdue(d: Decision): void {
  const cutoff = d.now - d.config.livenessTimeoutMs;
  for (const worker of d.view.overdueWorkers(cutoff)) {
    evict(d, worker, `no heartbeat for ${d.now - worker.lastSeenMs} ms (liveness timeout ${d.config.livenessTimeoutMs} ms)`);
  }
}

/** Requeues a worker's in-flight batches, then evicts it. */
export function evict(d: Decision, worker: WorkerRecord, reason: string): void {
  for (const batchId of worker.batchIds) {
    const flight = d.view.inFlight.get(batchId);
    if (!flight) continue;
    d.emit({
      type: 'BatchRequeued',
      atMs: d.now, inputs: d.inputs,
      batchId,
      model: flight.batch.model,
      requestIds: flight.batch.members.map((m) => m.requestId),
      reason: `worker ${worker.workerId} epoch ${worker.epoch} evicted: ${reason}`,
    });
  }
  d.emit({ type: 'WorkerEvicted', atMs: d.now, inputs: d.inputs, workerId: worker.workerId, workerEpoch: worker.epoch, reason });
}

/** Join, refresh, or replace a worker incarnation; stale incarnations are ignored. */
export function onHeartbeat(d: Decision, heartbeat: Heartbeat, topology: readonly TopologyLink[] = []): void {
  const { workerId, epoch } = heartbeat;
  const current = d.view.workers.get(workerId);
  if (current && epoch < current.epoch) return;
  if (!current) {
    const fenced = d.view.fencedEpochs.get(workerId);
    if (fenced !== undefined && epoch <= fenced) return;
  }
  if (current && epoch > current.epoch) {
    evict(d, current, `new incarnation: epoch ${epoch} replaces ${current.epoch}`);
  }
  if (!current || epoch > current.epoch) {
    d.emit({
      type: 'WorkerJoined',
      atMs: d.now, inputs: d.inputs,
      workerId,
      workerEpoch: epoch,
      deviceUuids: sortSmall(heartbeat.devices.map((dev) => dev.uuid), byCodeUnits),
    });
  }
  d.emit({
    type: 'WorkerObserved',
    atMs: d.now, inputs: d.inputs,
    workerId,
    workerEpoch: epoch,
    node: heartbeat.node,
    devices: sortSmall(
      heartbeat.devices.map((dev) => ({ uuid: dev.uuid, index: dev.index, memTotalBytes: dev.memTotalBytes })),
      (a, b) => byCodeUnits(a.uuid, b.uuid),
    ),
    loadedModels: sortSmall([...heartbeat.loadedModels], byCodeUnits),
    slots: Math.max(0, heartbeat.inFlightBatches + heartbeat.capacity),
    topology: normaliseTopology(topology),
  });
}

/**
 * Why a worker's result for a batch must not be delivered, or null when it is the live
 * assignment: the batch must be in flight on exactly that worker incarnation.
 */
export function staleResultReason(d: Decision, batchId: string, workerId: string, workerEpoch: number): string | null {
  const flight = d.view.inFlight.get(batchId);
  if (!flight) return `batch ${batchId} is not in flight (finished, requeued or never assigned)`;
  if (flight.workerId !== workerId || flight.workerEpoch !== workerEpoch) {
    return `batch ${batchId} is assigned to ${flight.workerId} epoch ${flight.workerEpoch}, not ${workerId} epoch ${workerEpoch}`;
  }
  return null;
}
