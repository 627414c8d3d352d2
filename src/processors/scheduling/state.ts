import { ValidationError } from '../../domain/errors.js';
import { insertAt, removeAt } from './arrays.js';
import { DeviceTable, plainRow, type DeviceCell } from './device-table.js';
import { IndexedHeap } from './indexed-heap.js';
import { pendingCompare } from './pending-order.js';
import { HeapDeviceIndex, type DeviceIndex } from './placement.js';
import type { DeviceRecord, DeviceSample, InFlightBatch, QueuedBatch, ServiceEstimate, WorkerRecord } from './records.js';
import { RequestIndex } from './request-index.js';
import { sortedIndex } from './rows.js';
import { entryOf, sameEligibility, type DeviceEntry, type IndexCandidates, type SchedulerView, type Table } from './view.js';

/**
 * A Map-backed table that tells its owner of every change, with the rows before and after
 * (`changed`). A table nobody watches writes straight through.
 */
class WatchedTable<V> implements Table<V> {
  readonly rows = new Map<string, V>();
  private readonly changed: ((key: string, before: V | undefined, after: V | undefined) => void) | null;
  constructor(changed?: (key: string, before: V | undefined, after: V | undefined) => void) {
    this.changed = changed ?? null;
  }
  get(key: string): V | undefined {
    return this.rows.get(key);
  }
  set(key: string, value: V): void {
    if (this.changed === null) {
      this.rows.set(key, value);
      return;
    }
    const before = this.rows.get(key);
    this.rows.set(key, value);
    this.changed(key, before, value);
  }
  delete(key: string): void {
    if (this.changed === null) {
      this.rows.delete(key);
      return;
    }
    const before = this.rows.get(key);
    if (before === undefined) return;
    this.rows.delete(key);
    this.changed(key, before, undefined);
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
  /** Device rows, latest samples and active alerts: one record per device (DeviceTable). */
  readonly deviceTable: DeviceTable;
  readonly devices: Table<DeviceRecord>;
  readonly oomAlerts: Table<true>;
  readonly samples: Table<DeviceSample>;
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
   * Devices whose eligibility, work or room changed since the index last saw them, each once
   * (its record's `stale` flag). The index catches up when placement asks it, not per fact: a
   * replay that folds thousands of facts touches no heap, and a device changed by several
   * facts between two queries moves once.
   */
  private readonly stale: DeviceCell[] = [];
  private sortedWorkerIds: string[] | null = null;
  private readonly modelWorkers = new Map<string, Set<string>>();

  constructor(readonly index: DeviceIndex = new HeapDeviceIndex()) {
    this.workers = new WatchedTable<WorkerRecord>((id, before, after) => this.workerChanged(id, before, after));
    this.deviceTable = new DeviceTable((cell) => this.reindex(cell));
    this.devices = this.deviceTable.rows;
    this.oomAlerts = this.deviceTable.alerts;
    this.samples = this.deviceTable.samples;
    this.pending = new WatchedTable<QueuedBatch>((_, before, after) => this.queueChanged(before, after));
  }

  searchDevices(model: string, needBytes: number, skip: (uuid: string) => boolean, coldUs?: number): IndexCandidates {
    const stale = this.stale;
    for (let i = 0; i < stale.length; i++) {
      const cell = stale[i] as DeviceCell;
      cell.stale = false;
      this.index.update(cell, this.entryOf(cell));
    }
    stale.length = 0;
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
    // Rows read from this state are its device records.
    this.reindex(device as DeviceCell);
  }

  writeWorkerBatch(worker: WorkerRecord, batchId: string, sign: 1 | -1): void {
    const list = worker.batchIds;
    const open = list.length < worker.slots;
    if (sign > 0) insertAt(list, sortedIndex(list, batchId), batchId);
    else {
      const at = list.indexOf(batchId);
      if (at >= 0) removeAt(list, at);
    }
    // Only a worker reaching or leaving its slot limit changes its devices' eligibility.
    if (open !== list.length < worker.slots) this.reindexAll(worker.deviceUuids);
  }

  /** `deviceEntry` read straight from the device's record. */
  private entryOf(cell: DeviceCell): DeviceEntry | null {
    if (!cell.live || cell.oom) return null;
    const worker = this.workers.rows.get(cell.workerId);
    if (worker === undefined || worker.batchIds.length >= worker.slots) return null;
    return entryOf(cell.uuid, cell, worker);
  }

  private reindex(cell: DeviceCell): void {
    if (cell.stale) return;
    cell.stale = true;
    this.stale.push(cell);
  }

  /** Marks a worker's devices stale (those with a record: a device never seen has nothing to index). */
  private reindexAll(uuids: readonly string[]): void {
    const cells = this.deviceTable.cells;
    for (const uuid of uuids) {
      const cell = cells.get(uuid);
      if (cell !== undefined) this.reindex(cell);
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
    if (before) this.reindexAll(before.deviceUuids);
    if (after && after.deviceUuids !== before?.deviceUuids) this.reindexAll(after.deviceUuids);
  }

  private queueChanged(before: QueuedBatch | undefined, after: QueuedBatch | undefined): void {
    // The row leaving is the very object in the queue: a short queue is searched by identity,
    // which spares comparing batches member by member.
    if (before) removeAt(this.queue, this.queue.length <= 16 ? this.queue.indexOf(before) : this.position(before));
    if (after) insertAt(this.queue, this.position(after), after);
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
  const cells = state.deviceTable.sorted();
  return {
    format: 'gpuflow.scheduler/1',
    // Worker and device rows change in place as the state evolves: the snapshot keeps copies.
    workers: sortedRows(state.workers).map((w) => ({ ...w, batchIds: [...w.batchIds] })),
    devices: cells.filter((c) => c.live).map(plainRow),
    oomAlerts: cells.filter((c) => c.oom).map((c) => c.uuid),
    samples: cells.filter((c) => c.sample !== undefined).map((c) => [c.uuid, c.sample as DeviceSample]),
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
  for (const d of data.devices) state.devices.set(d.uuid, d);
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
