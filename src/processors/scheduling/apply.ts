import { byCodeUnits, sortSmall } from './arrays.js';
import type { SchedulerConfig } from './config.js';
import type { ObservedDevice, SchedulerFact, WorkerObserved } from './facts.js';
import type { DeviceRecord, InFlightBatch, QueuedBatch, WorkerRecord } from './records.js';
import { estimateFor, estimateKey, predictUs, refineEstimate } from './service-time.js';
import type { SchedulerView } from './view.js';

/**
 * What each fact does to the state: the one place effects are written, used by `evolve` on the
 * state and by `decide` on its draft, so the two can never disagree.
 */
export function applyFact(view: SchedulerView, fact: SchedulerFact, config: SchedulerConfig): void {
  switch (fact.type) {
    case 'WorkerJoined':
      view.workers.set(fact.workerId, {
        workerId: fact.workerId,
        epoch: fact.workerEpoch,
        node: '',
        lastSeenMs: fact.atMs,
        deviceUuids: sortSmall([...fact.deviceUuids], byCodeUnits),
        loadedModels: [],
        slots: 0,
        batchIds: [],
        topology: [],
      });
      return;
    case 'WorkerObserved':
      observeWorker(view, fact);
      return;
    case 'WorkerEvicted': {
      const worker = view.workers.get(fact.workerId);
      if (!worker || worker.epoch !== fact.workerEpoch) return;
      for (const uuid of worker.deviceUuids) view.devices.delete(uuid);
      view.workers.delete(fact.workerId);
      view.fencedEpochs.set(fact.workerId, fact.workerEpoch);
      return;
    }
    case 'TelemetryObserved': {
      view.samples.set(fact.deviceUuid, { freeBytes: fact.freeBytes, atMs: fact.sampleAtMs });
      const device = view.devices.get(fact.deviceUuid);
      if (device) view.writeDevice(device, fact.freeBytes, fact.sampleAtMs, device.reservedBytes, device.outstandingUs);
      return;
    }
    case 'OomAlertObserved':
      if (fact.active) view.oomAlerts.set(fact.deviceUuid, true);
      else view.oomAlerts.delete(fact.deviceUuid);
      return;
    case 'BatchQueued':
      putPending(view, fact.batch);
      return;
    case 'BatchAssigned': {
      const batch = view.pending.get(fact.batchId);
      if (!batch) return;
      view.pending.delete(fact.batchId);
      // One device (the common case) keeps the fact's own string: a key whose hash is known.
      const deviceUuids = fact.deviceUuid.includes(',') ? fact.deviceUuid.split(',') : [fact.deviceUuid];
      const predicted = predictUs(estimateFor(config, view, batch.model, batch.modelVersion), batch.members.length);
      const flight: InFlightBatch = {
        batch,
        workerId: fact.workerId,
        workerEpoch: fact.workerEpoch,
        deviceUuids,
        reservedBytes: fact.reservedBytes,
        predictedUs: predicted,
        assignedAtMs: fact.atMs,
      };
      view.inFlight.set(fact.batchId, flight);
      charge(view, flight, +1);
      return;
    }
    case 'BatchRequeued': {
      const flight = view.inFlight.get(fact.batchId);
      if (!flight) return;
      release(view, flight);
      const keep = new Set(fact.requestIds);
      putPending(view, {
        ...flight.batch,
        members: flight.batch.members.filter((m) => keep.has(m.requestId)),
        attempts: flight.batch.attempts + 1,
        queuedAtMs: fact.atMs,
      });
      return;
    }
    case 'BatchCompleted': {
      const flight = view.inFlight.get(fact.batchId);
      if (!flight) return;
      release(view, flight);
      const { model, modelVersion } = flight.batch;
      const estimate = estimateFor(config, view, model, modelVersion);
      view.estimates.set(estimateKey(model, modelVersion), refineEstimate(estimate, flight.batch.members.length, fact.serviceTimeUs, config.serviceTimeAlpha));
      return;
    }
    case 'RequestRejected':
      // One that never joined a batch here has nothing to leave: no lookup (admission rejects often).
      if (fact.leavesBatch) dropRequest(view, fact.requestId);
      return;
    case 'BatchFormed':
    case 'ResultDiscarded':
      return;
  }
}

function observeWorker(view: SchedulerView, fact: WorkerObserved): void {
  const worker = view.workers.get(fact.workerId);
  if (!worker || worker.epoch !== fact.workerEpoch) return;
  // A heartbeat that changes nothing keeps the worker's own (sorted) lists without sorting copies.
  view.workers.set(worker.workerId, {
    workerId: worker.workerId,
    epoch: worker.epoch,
    node: fact.node,
    lastSeenMs: fact.atMs,
    deviceUuids: sameDevices(worker.deviceUuids, fact.devices) ? worker.deviceUuids : sortedOrSame(worker.deviceUuids, fact.devices.map((d) => d.uuid)),
    loadedModels: sameList(worker.loadedModels, fact.loadedModels) ? worker.loadedModels : sortedOrSame(worker.loadedModels, [...fact.loadedModels]),
    slots: fact.slots,
    batchIds: worker.batchIds,
    topology: fact.topology,
  });
  for (const d of fact.devices) {
    const device = view.devices.get(d.uuid);
    if (device && device.workerId === worker.workerId && device.memTotalBytes === d.memTotalBytes && device.index === d.index) continue;
    const sample = view.samples.get(d.uuid);
    const fresh: DeviceRecord = {
      uuid: d.uuid,
      workerId: worker.workerId,
      index: d.index,
      memTotalBytes: d.memTotalBytes,
      freeBytes: sample ? sample.freeBytes : d.memTotalBytes,
      telemetryAtMs: sample ? sample.atMs : null,
      reservedBytes: device?.reservedBytes ?? 0,
      outstandingUs: device?.outstandingUs ?? 0,
    };
    view.devices.set(d.uuid, fresh);
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameDevices(uuids: readonly string[], devices: readonly ObservedDevice[]): boolean {
  if (uuids.length !== devices.length) return false;
  for (let i = 0; i < uuids.length; i++) if (uuids[i] !== (devices[i] as ObservedDevice).uuid) return false;
  return true;
}

/** `list` sorted, or `current` itself when that holds the same items. */
function sortedOrSame(current: string[], list: string[]): string[] {
  sortSmall(list, byCodeUnits);
  return sameList(current, list) ? current : list;
}

function putPending(view: SchedulerView, batch: QueuedBatch): void {
  if (batch.members.length === 0) return;
  view.pending.set(batch.batchId, batch);
  view.requests.hold(batch.batchId, batch.members);
}

/** Adds (+1) or removes (-1) an in-flight batch's reservation, work and worker slot. */
function charge(view: SchedulerView, flight: InFlightBatch, sign: 1 | -1): void {
  for (const uuid of flight.deviceUuids) {
    const device = view.devices.get(uuid);
    if (!device || device.workerId !== flight.workerId) continue;
    view.writeDevice(device, device.freeBytes, device.telemetryAtMs, device.reservedBytes + sign * flight.reservedBytes, device.outstandingUs + sign * flight.predictedUs);
  }
  const worker = view.workers.get(flight.workerId);
  if (!worker || worker.epoch !== flight.workerEpoch) return;
  view.writeWorkerBatch(worker, flight.batch.batchId, sign);
}

/** Takes a batch out of flight: its devices get their room and work back. */
function release(view: SchedulerView, flight: InFlightBatch): void {
  charge(view, flight, -1);
  view.inFlight.delete(flight.batch.batchId);
  view.requests.release(flight.batch.batchId, flight.batch.members);
}

/** A rejected request leaves its batch; a batch left empty leaves the queue or frees its devices. */
function dropRequest(view: SchedulerView, requestId: string): void {
  const batchId = view.requests.batchOf(requestId);
  if (batchId === undefined) return;
  view.requests.drop(requestId);
  const queued = view.pending.get(batchId);
  if (queued) {
    const members = queued.members.filter((m) => m.requestId !== requestId);
    if (members.length === 0) view.pending.delete(batchId);
    else view.pending.set(batchId, { ...queued, members });
    return;
  }
  const flight = view.inFlight.get(batchId);
  if (!flight) return;
  const members = flight.batch.members.filter((m) => m.requestId !== requestId);
  if (members.length === 0) release(view, flight);
  else view.inFlight.set(batchId, { ...flight, batch: { ...flight.batch, members } });
}
