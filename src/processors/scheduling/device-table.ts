import { byCodeUnits } from './arrays.js';
import type { DeviceKey } from './placement.js';
import type { DeviceRecord, DeviceSample } from './records.js';
import { deviceRow } from './rows.js';
import type { Table } from './view.js';

/**
 * Everything the state keeps about one device uuid, in one object: the device row while its
 * worker is live (the record is that row: `live`), the latest telemetry sample (kept before the
 * worker joins and after it leaves), whether an out-of-memory alert is active, and the device
 * index's slot. A fact names its device by uuid; with one record per uuid it costs one map
 * lookup, not one per table, and the index and the stale list reach the record without any.
 *
 * The row fields change in place (SchedulerState.writeDevice): only the state holds the record,
 * and what leaves it (a snapshot, a Draft's new row) is a plain copy (`deviceRow`).
 */
export class DeviceCell implements DeviceRecord, DeviceKey {
  workerId = '';
  index = 0;
  memTotalBytes = 0;
  freeBytes = 0;
  telemetryAtMs: number | null = null;
  reservedBytes = 0;
  outstandingUs = 0;
  /** Whether the row fields describe a device of a live worker. */
  live = false;
  sample: DeviceSample | undefined = undefined;
  oom = false;
  /** Owned by the device index (DeviceKey). */
  slot = -1;
  /** Whether the record is in the state's stale list (changed since the index last saw it). */
  stale = false;
  constructor(readonly uuid: string) {}
}

/**
 * The per-device records, keyed by uuid, seen as the three tables the rules read: device rows,
 * latest samples and active alerts. Every change to a row or an alert is reported (`touched`),
 * so the owner can mark the device stale for the index; a sample alone is not (its row carries
 * the free bytes placement reads). A record stays once made, as a device's latest sample always
 * did: it holds the index slot, and a device that leaves usually comes back.
 */
export class DeviceTable {
  readonly cells = new Map<string, DeviceCell>();
  readonly rows: Table<DeviceRecord> = new RowView(this);
  readonly samples: Table<DeviceSample> = new SampleView(this);
  readonly alerts: Table<true> = new AlertView(this);
  constructor(readonly touched: (cell: DeviceCell) => void) {}

  /** The record of `uuid`, made empty if there is none yet. */
  cellFor(uuid: string): DeviceCell {
    let cell = this.cells.get(uuid);
    if (cell === undefined) this.cells.set(uuid, (cell = new DeviceCell(uuid)));
    return cell;
  }

  /** The records in uuid order. */
  sorted(): DeviceCell[] {
    return [...this.cells.values()].sort((a, b) => byCodeUnits(a.uuid, b.uuid));
  }
}

/** Device rows: the records of live devices; a write copies the row's fields into the record. */
class RowView implements Table<DeviceRecord> {
  constructor(private readonly table: DeviceTable) {}
  get(uuid: string): DeviceRecord | undefined {
    const cell = this.table.cells.get(uuid);
    return cell !== undefined && cell.live ? cell : undefined;
  }
  set(uuid: string, row: DeviceRecord): void {
    const cell = this.table.cellFor(uuid);
    cell.workerId = row.workerId;
    cell.index = row.index;
    cell.memTotalBytes = row.memTotalBytes;
    cell.freeBytes = row.freeBytes;
    cell.telemetryAtMs = row.telemetryAtMs;
    cell.reservedBytes = row.reservedBytes;
    cell.outstandingUs = row.outstandingUs;
    cell.live = true;
    this.table.touched(cell);
  }
  delete(uuid: string): void {
    const cell = this.table.cells.get(uuid);
    if (cell === undefined || !cell.live) return;
    cell.live = false;
    this.table.touched(cell);
  }
}

/** Latest samples, for any device seen. */
class SampleView implements Table<DeviceSample> {
  constructor(private readonly table: DeviceTable) {}
  get(uuid: string): DeviceSample | undefined {
    return this.table.cells.get(uuid)?.sample;
  }
  set(uuid: string, sample: DeviceSample): void {
    this.table.cellFor(uuid).sample = sample;
  }
  delete(uuid: string): void {
    const cell = this.table.cells.get(uuid);
    if (cell !== undefined) cell.sample = undefined;
  }
}

/** Active out-of-memory alerts. */
class AlertView implements Table<true> {
  constructor(private readonly table: DeviceTable) {}
  get(uuid: string): true | undefined {
    return this.table.cells.get(uuid)?.oom === true ? true : undefined;
  }
  set(uuid: string): void {
    const cell = this.table.cellFor(uuid);
    if (cell.oom) return;
    cell.oom = true;
    this.table.touched(cell);
  }
  delete(uuid: string): void {
    const cell = this.table.cells.get(uuid);
    if (cell === undefined || !cell.oom) return;
    cell.oom = false;
    this.table.touched(cell);
  }
}

/** A plain copy of a record's row, to keep or to change outside the state. */
export function plainRow(cell: DeviceCell): DeviceRecord {
  return deviceRow(cell, cell.freeBytes, cell.telemetryAtMs, cell.reservedBytes, cell.outstandingUs);
}
