import { ValidationError } from '../../domain/errors.js';
import { IndexedHeap } from './indexed-heap.js';
import { pendingCompare } from './pending-order.js';
import { HeapDeviceIndex, type DeviceIndex } from './placement.js';
import type { DeviceRecord, DeviceSample, InFlightBatch, QueuedBatch, ServiceEstimate, WorkerRecord } from './records.js';
import { RequestIndex } from './request-index.js';
import { sortedIndex } from './rows.js';
import { entryOf, sameEligibility, type DeviceEntry, type IndexCandidates, type SchedulerView, type Table } from './view.js';

/**
 * A Map-backed table that tells its owner of every change: with the rows before and after
 * (`changed`), or with the key and the row written (`touched`, undefined for a delete), which
 * spares looking up the row a write replaces. A table nobody watches writes straight through.
 */
class WatchedTable<V> implements Table<V> {
  readonly rows = new Map<string, V>();
  private readonly changed: ((key: string, before: V | undefined, after: V | undefined) => void) | null;
  private readonly touched: ((key: string, after: V | undefined) => void) | null;
  constructor(watch: { changed?: (key: string, before: V | undefined, after: V | undefined) => void; touched?: (key: string, after: V | undefined) => void } = {}) {
    this.changed = watch.changed ?? null;
    this.touched = watch.touched ?? null;
  }
  get(key: string): V | undefined {
    return this.rows.get(key);
  }
  set(key: string, value: V): void {
    if (this.changed !== null) {
      const before = this.rows.get(key);
      this.rows.set(key, value);
      this.changed(key, before, value);
      return;
    }
    this.rows.set(key, value);
    if (this.touched !== null) this.touched(key, value);
  }
  delete(key: string): void {
    if (this.changed !== null) {
      const before = this.rows.get(key);
      if (before === undefined) return;
      this.rows.delete(key);
      this.changed(key, before, undefined);
      return;
    }
    if (this.rows.delete(key) && this.touched !== null) this.touched(key, undefined);
  }
}

/**
 * The scheduler's state. `evolve` updates it in place and returns it: at thousands of devices,
 * copying the tables for every fact would cost more than the placement the indexes save. Rows
 * are replaced, except that a charge or a telemetry sample changes its device row, and a batch
 * assigned or finished its worker's batch list, in place (writeDevice, writeWorkerBatch): those
 * are most of the writes, and copying the row for each was most of their cost. One fold owns a
 * state; `snapshot` gives a copy to keep, `restore` a fresh state from it. `decide` never
 * writes here: it works on a QueuedView or a Draft over this state, which copy on write.
 *
 * Nothing here depends on Map iteration order: queries go through indexes with total orders,
 * and snapshots sort, so a restored state decides exactly like the one it was taken from.
 */
export class SchedulerState implements SchedulerView {
  readonly workers: WatchedTable<WorkerRecord>;
  readonly devices: WatchedTable<DeviceRecord>;
  readonly oomAlerts: WatchedTable<true>;
  readonly samples = new WatchedTable<DeviceSample>();
  readonly inFlight = new WatchedTable<InFlightBatch>();
  readonly pending: WatchedTable<QueuedBatch>;
  readonly requests = new RequestIndex();
  readonly fencedEpochs = new WatchedTable<number>();
  readonly estimates = new WatchedTable<ServiceEstimate>();

  private readonly liveness = new IndexedHeap<WorkerRecord>(
    (w) => w.workerId,
    (a, b) => a.lastSeenMs < b.lastSeenMs || (a.lastSeenMs === b.lastSeenMs && a.workerId < b.workerId),
  );
  private readonly queue: QueuedBatch[] = [];
  /**
   * Devices whose eligibility, work or room changed since the index last saw them (the first
   * `staleCount` entries, possibly repeated). The index catches up when placement asks it, not
   * per fact: a replay that folds thousands of facts touches no heap, and a device changed by
   * several facts between two queries moves once. A list, not a set: a fact costs one write,
   * and the few repeats between two queries cost the index a comparison each.
   */
  private readonly stale: string[] = [];
  /**
   * The device row a stale entry's write left (undefined: look it up). The last entry of a
   * device is always current: a later write adds a later entry.
   */
  private readonly staleRows: Array<DeviceRecord | undefined> = [];
  private staleCount = 0;
  private staleLimit = 1024;
  private sortedWorkerIds: string[] | null = null;
  private readonly modelWorkers = new Map<string, Set<string>>();

  constructor(readonly index: DeviceIndex = new HeapDeviceIndex()) {
    this.workers = new WatchedTable<WorkerRecord>({ changed: (id, before, after) => this.workerChanged(id, before, after) });
    this.devices = new WatchedTable<DeviceRecord>({ touched: (uuid, row) => this.reindex(uuid, row) });
    this.oomAlerts = new WatchedTable<true>({ touched: (uuid) => this.reindex(uuid) });
    this.pending = new WatchedTable<QueuedBatch>({ changed: (_, before, after) => this.queueChanged(before, after) });
  }

  searchDevices(model: string, needBytes: number, skip: (uuid: string) => boolean, coldUs?: number): IndexCandidates {
    for (let i = 0; i < this.staleCount; i++) {
      const uuid = this.stale[i] as string;
      this.index.update(uuid, this.entryOf(uuid, this.staleRows[i]));
    }
    this.staleCount = 0;
    return this.index.best(model, needBytes, skip, coldUs);
  }

  modelLoaded(model: string): boolean {
    return (this.modelWorkers.get(model)?.size ?? 0) > 0;
  }

  /** Live workers with the model loaded, whether or not they have room now. */
  workersWithModel(model: string): ReadonlySet<string> {
    return this.modelWorkers.get(model) ?? EMPTY;
  }

  overdueWorkers(cutoffMs: number): readonly WorkerRecord[] {
    const first = this.liveness.peek();
    if (first === undefined || first.lastSeenMs >= cutoffMs) return NONE_OVERDUE;
    const overdue: WorkerRecord[] = [];
    this.liveness.find((w) => {
      if (w.lastSeenMs >= cutoffMs) return true;
      overdue.push(this.workers.get(w.workerId) as WorkerRecord);
      return false;
    });
    return overdue;
  }

  /** The queue itself, not a copy: only evolve changes it, never while a decision reads it. */
  pendingByPriority(): readonly QueuedBatch[] {
    return this.queue;
  }

  workerIds(): string[] {
    this.sortedWorkerIds ??= [...this.workers.rows.keys()].sort();
    return this.sortedWorkerIds;
  }

  writeDevice(device: DeviceRecord, freeBytes: number, telemetryAtMs: number | null, reservedBytes: number, outstandingUs: number): void {
    device.freeBytes = freeBytes;
    device.telemetryAtMs = telemetryAtMs;
    device.reservedBytes = reservedBytes;
    device.outstandingUs = outstandingUs;
    this.reindex(device.uuid, device);
  }

  writeWorkerBatch(worker: WorkerRecord, batchId: string, sign: 1 | -1): void {
    const list = worker.batchIds;
    const open = list.length < worker.slots;
    if (sign > 0) list.splice(sortedIndex(list, batchId), 0, batchId);
    else {
      const at = list.indexOf(batchId);
      if (at >= 0) list.splice(at, 1);
    }
    // Only a worker reaching or leaving its slot limit changes its devices' eligibility.
    if (open !== list.length < worker.slots) for (const uuid of worker.deviceUuids) this.reindex(uuid);
  }

  /** `deviceEntry` read straight from the rows, skipping the alert lookup when none is active. */
  private entryOf(uuid: string, row: DeviceRecord | undefined): DeviceEntry | null {
    const device = row ?? this.devices.rows.get(uuid);
    if (device === undefined) return null;
    const worker = this.workers.rows.get(device.workerId);
    if (worker === undefined || worker.batchIds.length >= worker.slots) return null;
    if (this.oomAlerts.rows.size > 0 && this.oomAlerts.rows.has(uuid)) return null;
    return entryOf(uuid, device, worker);
  }

  private reindex(uuid: string, row?: DeviceRecord): void {
    this.staleRows[this.staleCount] = row;
    this.stale[this.staleCount++] = uuid;
    // Facts folded with no query between (a replay): keep each device once, so the list stays
    // bounded by the devices rather than the facts (amortised O(1) per fact).
    if (this.staleCount >= this.staleLimit) {
      const once = new Set(this.stale.slice(0, this.staleCount));
      this.staleCount = 0;
      for (const uuid of once) {
        this.staleRows[this.staleCount] = undefined;
        this.stale[this.staleCount++] = uuid;
      }
      this.stale.length = this.staleCount;
      this.staleRows.length = this.staleCount;
      this.staleLimit = 2 * (this.staleCount + this.devices.rows.size) + 1024;
    }
  }

  private workerChanged(id: string, before: WorkerRecord | undefined, after: WorkerRecord | undefined): void {
    // The liveness heap keeps the row it was given; it is re-sorted only when the last-seen
    // time moves, and overdueWorkers reads the current row by id.
    if (!after) this.liveness.remove(id);
    else if (!before || before.lastSeenMs !== after.lastSeenMs) this.liveness.upsert(after);
    if (!before || !after) this.sortedWorkerIds = null;
    if (before?.loadedModels !== after?.loadedModels) {
      for (const model of before?.loadedModels ?? []) this.modelWorkers.get(model)?.delete(id);
      for (const model of after?.loadedModels ?? []) {
        let set = this.modelWorkers.get(model);
        if (!set) this.modelWorkers.set(model, (set = new Set()));
        set.add(id);
      }
    }
    if (before && after && sameEligibility(before, after)) return;
    for (const uuid of before?.deviceUuids ?? []) this.reindex(uuid);
    if (after && after.deviceUuids !== before?.deviceUuids) for (const uuid of after.deviceUuids) this.reindex(uuid);
  }

  private queueChanged(before: QueuedBatch | undefined, after: QueuedBatch | undefined): void {
    // The row leaving is the very object in the queue: a short queue is searched by identity,
    // which spares comparing batches member by member.
    if (before) this.queue.splice(this.queue.length <= 16 ? this.queue.indexOf(before) : this.position(before), 1);
    if (after) this.queue.splice(this.position(after), 0, after);
  }

  /** Where a batch is, or would go, in the queue (binary search on the total order). */
  private position(batch: QueuedBatch): number {
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pendingCompare(this.queue[mid] as QueuedBatch, batch) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
const NONE_OVERDUE: readonly WorkerRecord[] = [];

/** Everything the state holds, as plain sorted data: the same state gives the same JSON. */
export interface SchedulerSnapshot {
  format: 'gpuflow.scheduler/1';
  workers: WorkerRecord[];
  devices: DeviceRecord[];
  oomAlerts: string[];
  samples: Array<[string, DeviceSample]>;
  inFlight: InFlightBatch[];
  pending: QueuedBatch[];
  fencedEpochs: Array<[string, number]>;
  estimates: Array<[string, ServiceEstimate]>;
}

function sortedRows<V>(table: WatchedTable<V>): V[] {
  return [...table.rows.keys()].sort().map((k) => table.rows.get(k) as V);
}

export function snapshot(state: SchedulerState): SchedulerSnapshot {
  return {
    format: 'gpuflow.scheduler/1',
    // Worker and device rows change in place as the state evolves: the snapshot keeps copies.
    workers: sortedRows(state.workers).map((w) => ({ ...w, batchIds: [...w.batchIds] })),
    devices: sortedRows(state.devices).map((d) => ({ ...d })),
    oomAlerts: [...state.oomAlerts.rows.keys()].sort(),
    samples: [...state.samples.rows.keys()].sort().map((k) => [k, state.samples.rows.get(k) as DeviceSample]),
    inFlight: sortedRows(state.inFlight),
    pending: sortedRows(state.pending),
    fencedEpochs: [...state.fencedEpochs.rows.keys()].sort().map((k) => [k, state.fencedEpochs.rows.get(k) as number]),
    estimates: [...state.estimates.rows.keys()].sort().map((k) => [k, state.estimates.rows.get(k) as ServiceEstimate]),
  };
}

/** Rebuilds a state (and its indexes) from a snapshot or its JSON text. */
export function restore(json: SchedulerSnapshot | string, index: DeviceIndex = new HeapDeviceIndex()): SchedulerState {
  let data: SchedulerSnapshot;
  try {
    data = typeof json === 'string' ? (JSON.parse(json) as SchedulerSnapshot) : json;
  } catch (cause) {
    throw new ValidationError('scheduler snapshot is not valid JSON', { cause });
  }
  if (data?.format !== 'gpuflow.scheduler/1') {
    throw new ValidationError(`not a scheduler snapshot (format ${String((data as { format?: unknown } | null)?.format)})`);
  }
  const state = new SchedulerState(index);
  // Copies of the worker and device rows, which the state will change in place.
  for (const w of data.workers) state.workers.set(w.workerId, { ...w, batchIds: [...w.batchIds] });
  for (const d of data.devices) state.devices.set(d.uuid, { ...d });
  for (const uuid of data.oomAlerts) state.oomAlerts.set(uuid, true);
  for (const [uuid, sample] of data.samples) state.samples.set(uuid, sample);
  for (const b of data.inFlight) {
    state.inFlight.set(b.batch.batchId, b);
    state.requests.hold(b.batch.batchId, b.batch.members);
  }
  for (const b of data.pending) {
    state.pending.set(b.batchId, b);
    state.requests.hold(b.batchId, b.members);
  }
  for (const [id, epoch] of data.fencedEpochs) state.fencedEpochs.set(id, epoch);
  for (const [model, e] of data.estimates) state.estimates.set(model, e);
  return state;
}
