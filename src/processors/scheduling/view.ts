import type { BatchMemberRef, DeviceRecord, DeviceSample, InFlightBatch, QueuedBatch, ServiceEstimate, WorkerRecord } from './records.js';

/** A keyed table of immutable rows. */
export interface Table<V> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  delete(key: string): void;
}

/** Which batch holds each request: the batches in the queue or in flight and their members. */
export interface RequestTable {
  batchOf(requestId: string): string | undefined;
  /** The batch entered the queue with these members. */
  hold(batchId: string, members: readonly BatchMemberRef[]): void;
  /** The batch left the queue and flight: its members no longer belong to it. */
  release(batchId: string, members: readonly BatchMemberRef[]): void;
  /** One request left its batch. */
  drop(requestId: string): void;
}

/** A device as placement sees it: eligible now, with its work and room. */
export interface DeviceEntry {
  uuid: string;
  workerId: string;
  outstandingUs: number;
  /** Free bytes from telemetry minus what in-flight batches reserve. */
  availableBytes: number;
  loadedModels: readonly string[];
}

/** Best candidates among indexed devices with room, by (outstanding work, uuid). */
export interface IndexCandidates {
  /** Among devices whose worker has the model loaded. */
  loaded: DeviceEntry | undefined;
  /** Among all devices. */
  any: DeviceEntry | undefined;
}

/**
 * The scheduler's state as the rules read and write it. Two implementations: the state itself
 * (which keeps indexes up to date as rows change) and a draft overlay used while deciding.
 */
export interface SchedulerView {
  readonly workers: Table<WorkerRecord>;
  readonly devices: Table<DeviceRecord>;
  readonly oomAlerts: Table<true>;
  /** deviceUuid → latest telemetry, for any device (a sample may come before the heartbeat). */
  readonly samples: Table<DeviceSample>;
  readonly inFlight: Table<InFlightBatch>;
  readonly pending: Table<QueuedBatch>;
  /** requestId → batchId, for requests in pending or in-flight batches. */
  readonly requests: RequestTable;
  /** workerId → the last evicted epoch: heartbeats at or below it are from a fenced incarnation. */
  readonly fencedEpochs: Table<number>;
  readonly estimates: Table<ServiceEstimate>;

  /**
   * Best devices with at least `needBytes` available, ignoring those `skip` names. With
   * `coldUs`, `any` may be left out where it cannot beat `loaded` (DeviceIndex.best).
   */
  searchDevices(model: string, needBytes: number, skip: (uuid: string) => boolean, coldUs?: number): IndexCandidates;
  /** Whether a live worker has the model loaded (busy or not). */
  modelLoaded(model: string): boolean;
  /** Workers last seen before `cutoffMs`, oldest first (ties by id). */
  overdueWorkers(cutoffMs: number): readonly WorkerRecord[];
  /** Pending batches, most urgent first. */
  pendingByPriority(): readonly QueuedBatch[];
  /** Live worker ids, sorted. */
  workerIds(): string[];

  /**
   * Sets a device row's telemetry and charges: the state changes its own row in place (no row
   * is copied per charge), a draft writes a new row over the state's.
   */
  writeDevice(device: DeviceRecord, freeBytes: number, telemetryAtMs: number | null, reservedBytes: number, outstandingUs: number): void;
  /** Adds (+1) or removes (-1) a batch in a worker's sorted batch list, in place or not as above. */
  writeWorkerBatch(worker: WorkerRecord, batchId: string, sign: 1 | -1): void;
}

/**
 * Whether a device can take work now, and how it looks to placement: its worker is live and has
 * a free slot, and it is not under an active out-of-memory alert.
 */
export function deviceEntry(view: SchedulerView, uuid: string): DeviceEntry | null {
  const device = view.devices.get(uuid);
  if (!device) return null;
  const worker = view.workers.get(device.workerId);
  if (!worker || worker.batchIds.length >= worker.slots) return null;
  if (view.oomAlerts.get(uuid)) return null;
  return entryOf(uuid, device, worker);
}

/** How an eligible device looks to placement. */
export function entryOf(uuid: string, device: DeviceRecord, worker: WorkerRecord): DeviceEntry {
  return {
    uuid,
    workerId: worker.workerId,
    outstandingUs: device.outstandingUs,
    availableBytes: device.freeBytes - device.reservedBytes,
    loadedModels: worker.loadedModels,
  };
}

/** Same devices, same loaded models, same side of the slot limit: no device changes eligibility. */
export function sameEligibility(a: WorkerRecord, b: WorkerRecord): boolean {
  return (
    a.deviceUuids === b.deviceUuids &&
    a.loadedModels === b.loadedModels &&
    a.batchIds.length < a.slots === b.batchIds.length < b.slots
  );
}

/** Strict total order used by every device index: least outstanding work, then uuid. */
export function entryLess(a: DeviceEntry, b: DeviceEntry): boolean {
  return a.outstandingUs < b.outstandingUs || (a.outstandingUs === b.outstandingUs && a.uuid < b.uuid);
}
