import type { DeviceRecord, WorkerRecord } from './records.js';

/**
 * New rows with one change, for a Draft, which never writes the state's rows. Built field by
 * field in each row's one layout: a spread copy costs several times a plain literal.
 */

/** The device row with new telemetry and charges. */
export function deviceRow(device: DeviceRecord, freeBytes: number, telemetryAtMs: number | null, reservedBytes: number, outstandingUs: number): DeviceRecord {
  return {
    uuid: device.uuid,
    workerId: device.workerId,
    index: device.index,
    memTotalBytes: device.memTotalBytes,
    freeBytes,
    telemetryAtMs,
    reservedBytes,
    outstandingUs,
  };
}

/** The worker row with a batch added to (+1) or removed from (-1) its sorted batch list. */
export function workerWithBatch(worker: WorkerRecord, batchId: string, sign: 1 | -1): WorkerRecord {
  let batchIds: string[];
  if (sign > 0) {
    const at = sortedIndex(worker.batchIds, batchId);
    batchIds = worker.batchIds.slice(0, at);
    batchIds.push(batchId);
    for (let i = at; i < worker.batchIds.length; i++) batchIds.push(worker.batchIds[i] as string);
  } else {
    batchIds = worker.batchIds.filter((id) => id !== batchId);
  }
  return {
    workerId: worker.workerId,
    epoch: worker.epoch,
    node: worker.node,
    lastSeenMs: worker.lastSeenMs,
    deviceUuids: worker.deviceUuids,
    loadedModels: worker.loadedModels,
    slots: worker.slots,
    batchIds,
    topology: worker.topology,
  };
}

/** Where `id` goes in the sorted list (binary search). */
export function sortedIndex(list: readonly string[], id: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as string) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
