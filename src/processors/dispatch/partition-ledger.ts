/**
 * What one partition of inference.requests has come to, folded from the log: the batches formed
 * from its requests that are not finished (and, for those in flight, the worker, incarnation and
 * device they went to), and the requests already answered. A dispatcher instance that is given the
 * partition reads it to know, for each request that Kafka delivers again, whether it is done
 * (acked and dropped), running in a batch another instance sent (held until that batch reports),
 * or new (batched as usual); and which devices that other instance's batches still occupy.
 *
 * The ledger is a fold of two logs co-partitioned with the requests, both keyed by model:
 * the decisions on scheduler.events and the workers' reports on worker.reports. A snapshot of it
 * (`ledgerSnapshot`) with the offsets it covers, plus the fold of both logs after those offsets,
 * gives the same ledger as the fold of both logs from their start: that is what bounds a takeover.
 *
 * Finished requests need only be kept as long as Kafka may deliver them again: a request comes
 * again only while an earlier request of its partition is unfinished, and the batcher ends every
 * request by its deadline. `pruneFinished` forgets those older than a retention, by the logs' time.
 *
 * @example
 * const ledger = createLedger();
 * for (const event of decisions) foldDecision(ledger, event);
 * for (const report of reports) foldReport(ledger, report);
 * pruneFinished(ledger, 120_000);
 * statusOf(ledger, requestId); // 'finished' | { batchId, assigned } | 'unknown'
 */
import type { SchedulerEvent, WorkerReport } from '../../domain/events/index.js';
import { ValidationError } from '../../domain/errors.js';

/** Where a batch went: enough to match its worker's report and to know what it occupies. */
export interface LedgerAssignment {
  workerId: string;
  workerEpoch: number;
  /** One UUID, or several joined by ',' for a multi-GPU replica (as BatchAssigned has it). */
  deviceUuid: string;
  reservedBytes: number;
  atMs: number;
}

export interface LedgerBatch {
  batchId: string;
  model: string;
  /** Its members not yet finished, in batch order. */
  requestIds: string[];
  /** Null while the batch waits for a device (formed, or requeued). */
  assigned: LedgerAssignment | null;
}

export interface PartitionLedger {
  readonly batches: Map<string, LedgerBatch>;
  /** Request id → the open batch it is in. */
  readonly batchOf: Map<string, string>;
  /** Request id → when it finished (completed or rejected), by the logs' time. */
  readonly finished: Map<string, number>;
  /** The latest time the logs have shown. */
  latestMs: number;
}

export type RequestStatus = 'finished' | 'unknown' | { batchId: string; assigned: LedgerAssignment | null };

export function createLedger(): PartitionLedger {
  return { batches: new Map(), batchOf: new Map(), finished: new Map(), latestMs: 0 };
}

export function statusOf(ledger: PartitionLedger, requestId: string): RequestStatus {
  if (ledger.finished.has(requestId)) return 'finished';
  const batchId = ledger.batchOf.get(requestId);
  const batch = batchId === undefined ? undefined : ledger.batches.get(batchId);
  return batch ? { batchId: batch.batchId, assigned: batch.assigned } : 'unknown';
}

/** Batches sent to a worker and not yet reported on, in batch id order. */
export function inFlight(ledger: PartitionLedger): LedgerBatch[] {
  return [...ledger.batches.values()].filter((b) => b.assigned !== null).sort((a, b) => (a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : 0));
}

/** Folds one decision of this partition's models. Membership decisions (keyed by worker) say nothing here. */
export function foldDecision(ledger: PartitionLedger, event: SchedulerEvent): void {
  ledger.latestMs = Math.max(ledger.latestMs, event.atMs);
  switch (event.type) {
    case 'BatchFormed':
      // A request formed again (its earlier batch was never sent) leaves the earlier batch.
      for (const id of event.requestIds) leaveBatch(ledger, id);
      ledger.batches.set(event.batchId, { batchId: event.batchId, model: event.model, requestIds: [...event.requestIds], assigned: null });
      for (const id of event.requestIds) ledger.batchOf.set(id, event.batchId);
      return;
    case 'BatchAssigned': {
      const batch = ledger.batches.get(event.batchId);
      if (batch) batch.assigned = { workerId: event.workerId, workerEpoch: event.workerEpoch, deviceUuid: event.deviceUuid, reservedBytes: event.reservedBytes, atMs: event.atMs };
      return;
    }
    case 'BatchRequeued': {
      const batch = ledger.batches.get(event.batchId);
      if (!batch) return;
      const keep = new Set(event.requestIds);
      for (const id of batch.requestIds) if (!keep.has(id)) ledger.batchOf.delete(id);
      batch.requestIds = batch.requestIds.filter((id) => keep.has(id));
      batch.assigned = null;
      if (batch.requestIds.length === 0) ledger.batches.delete(batch.batchId);
      return;
    }
    case 'BatchCompleted':
      finishBatch(ledger, event.batchId, event.atMs);
      return;
    case 'RequestRejected':
      leaveBatch(ledger, event.requestId);
      ledger.finished.set(event.requestId, event.atMs);
      return;
    case 'WorkerJoined':
    case 'WorkerEvicted':
    case 'RolloutAborted':
      return;
  }
}

/**
 * Folds one worker report. Only a report from the worker and incarnation the batch is assigned to
 * counts (as in the scheduler): a done batch finishes its members, a refused one waits again.
 */
export function foldReport(ledger: PartitionLedger, report: WorkerReport): void {
  ledger.latestMs = Math.max(ledger.latestMs, report.timestampMs);
  const batch = ledger.batches.get(report.batchId);
  const a = batch?.assigned;
  if (!batch || !a || a.workerId !== report.workerId || a.workerEpoch !== report.workerEpoch) return;
  if (report.type === 'BatchDone') finishBatch(ledger, batch.batchId, report.timestampMs);
  else batch.assigned = null;
}

/** Takes an in-flight batch back to waiting: it was never sent, or its worker is gone. */
export function releaseBatch(ledger: PartitionLedger, batchId: string): void {
  const batch = ledger.batches.get(batchId);
  if (batch) batch.assigned = null;
}

function finishBatch(ledger: PartitionLedger, batchId: string, atMs: number): void {
  const batch = ledger.batches.get(batchId);
  if (!batch) return;
  ledger.batches.delete(batchId);
  for (const id of batch.requestIds) {
    ledger.batchOf.delete(id);
    ledger.finished.set(id, atMs);
  }
}

function leaveBatch(ledger: PartitionLedger, requestId: string): void {
  const batchId = ledger.batchOf.get(requestId);
  if (batchId === undefined) return;
  ledger.batchOf.delete(requestId);
  const batch = ledger.batches.get(batchId);
  if (!batch) return;
  batch.requestIds = batch.requestIds.filter((id) => id !== requestId);
  if (batch.requestIds.length === 0) ledger.batches.delete(batchId);
}

/** Forgets requests that finished more than `retentionMs` before the latest time the logs showed. */
export function pruneFinished(ledger: PartitionLedger, retentionMs: number): void {
  const horizon = ledger.latestMs - retentionMs;
  for (const [id, at] of ledger.finished) if (at < horizon) ledger.finished.delete(id);
}

/** The ledger as plain data, every list sorted, so two equal ledgers give the same JSON. */
export interface LedgerSnapshot {
  latestMs: number;
  batches: LedgerBatch[];
  /** [request id, finished at], by time then id. */
  finished: [string, number][];
}

export function ledgerSnapshot(ledger: PartitionLedger): LedgerSnapshot {
  const byId = (a: { batchId: string }, b: { batchId: string }): number => (a.batchId < b.batchId ? -1 : a.batchId > b.batchId ? 1 : 0);
  return {
    latestMs: ledger.latestMs,
    batches: [...ledger.batches.values()].map((b) => ({ ...b, requestIds: [...b.requestIds], assigned: b.assigned && { ...b.assigned } })).sort(byId),
    finished: [...ledger.finished].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
  };
}

/** A ledger from its snapshot; a snapshot that is not one is a ValidationError. */
export function restoreLedger(snapshot: unknown): PartitionLedger {
  const s = snapshot as Partial<LedgerSnapshot> | null;
  if (!s || typeof s.latestMs !== 'number' || !Array.isArray(s.batches) || !Array.isArray(s.finished)) {
    throw new ValidationError('not a partition ledger snapshot: latestMs, batches and finished are required');
  }
  const ledger = createLedger();
  ledger.latestMs = s.latestMs;
  for (const b of s.batches) {
    if (typeof b?.batchId !== 'string' || !Array.isArray(b.requestIds)) throw new ValidationError('not a partition ledger snapshot: a batch needs batchId and requestIds');
    ledger.batches.set(b.batchId, { batchId: b.batchId, model: b.model, requestIds: [...b.requestIds], assigned: b.assigned ? { ...b.assigned } : null });
    for (const id of b.requestIds) ledger.batchOf.set(id, b.batchId);
  }
  for (const [id, at] of s.finished) ledger.finished.set(id, at);
  return ledger;
}
