import { pendingCompare } from './pending-order.js';
import { deviceRow, workerWithBatch } from './rows.js';
import type { BatchMemberRef, DeviceRecord, DeviceSample, InFlightBatch, QueuedBatch, ServiceEstimate, WorkerRecord } from './records.js';
import type { SchedulerState } from './state.js';
import { deviceEntry, entryLess, sameEligibility, type IndexCandidates, type RequestTable, type SchedulerView, type Table } from './view.js';

const NO_CHANGES: ReadonlyMap<string, null> = new Map<string, null>();

/**
 * Rows written during one decision, over the state's rows (null: deleted). A table nobody
 * watches does not look up the row a write replaces.
 */
class OverlayTable<V> implements Table<V> {
  private rows: Map<string, V | null> | null = null;
  constructor(
    private readonly base: Table<V>,
    private readonly changed: ((key: string, before: V | undefined, after: V | undefined) => void) | null = null,
  ) {}
  /** Rows written so far (created on the first write: most decisions write few tables). */
  get changes(): ReadonlyMap<string, V | null> {
    return this.rows ?? NO_CHANGES;
  }
  get(key: string): V | undefined {
    const row = this.rows?.get(key);
    if (row !== undefined) return row ?? undefined;
    return this.base.get(key);
  }
  set(key: string, value: V): void {
    if (this.changed === null) {
      (this.rows ??= new Map()).set(key, value);
      return;
    }
    const before = this.get(key);
    (this.rows ??= new Map()).set(key, value);
    this.changed(key, before, value);
  }
  delete(key: string): void {
    if (this.changed === null) {
      (this.rows ??= new Map()).set(key, null);
      return;
    }
    const before = this.get(key);
    if (before === undefined) return;
    (this.rows ??= new Map()).set(key, null);
    this.changed(key, before, undefined);
  }
}

/**
 * Request → batch changes written during one decision, over the state's. They are kept as a
 * list of whole batches and only spread into a per-request overlay when a rule asks which
 * batch holds a request (a rejection in the same decision): most decisions never ask.
 */
class OverlayRequests implements RequestTable {
  private pending: Array<{ batchId: string | null; members: readonly BatchMemberRef[] }> | null = null;
  private rows: Map<string, string | null> | null = null;
  constructor(private readonly base: RequestTable) {}

  batchOf(requestId: string): string | undefined {
    const row = this.overlay().get(requestId);
    if (row !== undefined) return row ?? undefined;
    return this.base.batchOf(requestId);
  }
  hold(batchId: string, members: readonly BatchMemberRef[]): void {
    this.write(batchId, members);
  }
  release(_batchId: string, members: readonly BatchMemberRef[]): void {
    this.write(null, members);
  }
  drop(requestId: string): void {
    this.overlay().set(requestId, null);
  }

  private write(batchId: string | null, members: readonly BatchMemberRef[]): void {
    if (this.rows === null) (this.pending ??= []).push({ batchId, members });
    else for (const m of members) this.rows.set(m.requestId, batchId);
  }

  private overlay(): Map<string, string | null> {
    if (this.rows === null) {
      this.rows = new Map();
      for (const { batchId, members } of this.pending ?? []) for (const m of members) this.rows.set(m.requestId, batchId);
      this.pending = null;
    }
    return this.rows;
  }
}

/**
 * A copy-on-write view of the state for one `decide`: the facts decided so far are applied to
 * it, so that later rules in the same decision see them (a requeued batch placed again, a
 * device's room after an earlier assignment), while the state itself stays untouched.
 * Devices whose rows changed are left out of the state's index and judged directly.
 */
export class Draft implements SchedulerView {
  readonly workers: OverlayTable<WorkerRecord>;
  readonly devices: OverlayTable<DeviceRecord>;
  readonly oomAlerts: OverlayTable<true>;
  readonly samples: OverlayTable<DeviceSample>;
  readonly inFlight: OverlayTable<InFlightBatch>;
  readonly pending: OverlayTable<QueuedBatch>;
  readonly requests: OverlayRequests;
  readonly fencedEpochs: OverlayTable<number>;
  readonly estimates: OverlayTable<ServiceEstimate>;
  private readonly touched = new Set<string>();

  constructor(private readonly state: SchedulerState) {
    const touch = (uuid: string): void => {
      this.touched.add(uuid);
    };
    this.workers = new OverlayTable(state.workers, (_, before, after) => {
      if (before && after && sameEligibility(before, after)) return;
      for (const uuid of before?.deviceUuids ?? []) touch(uuid);
      for (const uuid of after?.deviceUuids ?? []) touch(uuid);
    });
    this.devices = new OverlayTable(state.devices, touch);
    this.oomAlerts = new OverlayTable(state.oomAlerts, touch);
    this.samples = new OverlayTable(state.samples);
    this.inFlight = new OverlayTable(state.inFlight);
    this.pending = new OverlayTable(state.pending);
    this.requests = new OverlayRequests(state.requests);
    this.fencedEpochs = new OverlayTable(state.fencedEpochs);
    this.estimates = new OverlayTable(state.estimates);
  }

  searchDevices(model: string, needBytes: number, skip: (uuid: string) => boolean, coldUs?: number): IndexCandidates {
    if (this.touched.size === 0) return this.state.searchDevices(model, needBytes, skip, coldUs);
    // The touched devices can only lower `loaded`, so where the state's answer leaves `any`
    // out, no device without the model can win here either.
    let { loaded, any } = this.state.searchDevices(model, needBytes, (uuid) => this.touched.has(uuid) || skip(uuid), coldUs);
    for (const uuid of this.touched) {
      if (skip(uuid)) continue;
      const entry = deviceEntry(this, uuid);
      if (!entry || entry.availableBytes < needBytes) continue;
      if (!any || entryLess(entry, any)) any = entry;
      if (entry.loadedModels.includes(model) && (!loaded || entryLess(entry, loaded))) loaded = entry;
    }
    return { loaded, any };
  }

  modelLoaded(model: string): boolean {
    const changed = this.workers.changes;
    if (changed.size === 0) return this.state.modelLoaded(model);
    for (const row of changed.values()) if (row?.loadedModels.includes(model)) return true;
    for (const id of this.state.workersWithModel(model)) if (!changed.has(id)) return true;
    return false;
  }

  overdueWorkers(cutoffMs: number): readonly WorkerRecord[] {
    const changed = this.workers.changes;
    const base = this.state.overdueWorkers(cutoffMs);
    if (changed.size === 0) return base;
    const overdue = base.filter((w) => !changed.has(w.workerId));
    for (const row of changed.values()) if (row && row.lastSeenMs < cutoffMs) overdue.push(row);
    return overdue.sort((a, b) => a.lastSeenMs - b.lastSeenMs || (a.workerId < b.workerId ? -1 : 1));
  }

  pendingByPriority(): readonly QueuedBatch[] {
    const changed = this.pending.changes;
    const base = this.state.pendingByPriority();
    if (changed.size === 0) return base;
    const queue = base.filter((b) => !changed.has(b.batchId));
    for (const row of changed.values()) if (row) queue.push(row);
    return queue.sort(pendingCompare);
  }

  writeDevice(device: DeviceRecord, freeBytes: number, telemetryAtMs: number | null, reservedBytes: number, outstandingUs: number): void {
    this.devices.set(device.uuid, deviceRow(device, freeBytes, telemetryAtMs, reservedBytes, outstandingUs));
  }

  writeWorkerBatch(worker: WorkerRecord, batchId: string, sign: 1 | -1): void {
    this.workers.set(worker.workerId, workerWithBatch(worker, batchId, sign));
  }

  workerIds(): string[] {
    const changed = this.workers.changes;
    if (changed.size === 0) return this.state.workerIds();
    const ids = new Set(this.state.workerIds());
    for (const [id, row] of changed) {
      if (row) ids.add(id);
      else ids.delete(id);
    }
    return [...ids].sort();
  }
}
