import { GpuflowError } from '../../domain/errors.js';
import { pendingCompare } from './pending-order.js';
import type { DeviceRecord, DeviceSample, InFlightBatch, QueuedBatch, ServiceEstimate, WorkerRecord } from './records.js';
import type { SchedulerState } from './state.js';
import type { IndexCandidates, RequestTable, SchedulerView, Table } from './view.js';

/**
 * The state plus batches queued in this decision, and nothing else: what a Draft holding only
 * `BatchQueued` facts reads like, without building one. Most decisions that read after a fact
 * are a batch arriving and then being placed; queueing it changes the pending queue alone, so
 * every other read goes straight to the state. Rules only read views (facts change tables only
 * through applyFact, which Decision runs on a Draft), and the tables here other than `pending`
 * are the state's own: nothing may write through them. Only `Decision` adds here (`add`).
 */
export class QueuedView implements SchedulerView {
  readonly workers: Table<WorkerRecord>;
  readonly devices: Table<DeviceRecord>;
  readonly oomAlerts: Table<true>;
  readonly samples: Table<DeviceSample>;
  readonly inFlight: Table<InFlightBatch>;
  readonly pending: Table<QueuedBatch>;
  readonly requests: RequestTable;
  readonly fencedEpochs: Table<number>;
  readonly estimates: Table<ServiceEstimate>;
  private readonly queued: QueuedBatch[] = [];

  constructor(private readonly state: SchedulerState) {
    this.workers = state.workers;
    this.devices = state.devices;
    this.oomAlerts = state.oomAlerts;
    this.samples = state.samples;
    this.inFlight = state.inFlight;
    this.requests = state.requests;
    this.fencedEpochs = state.fencedEpochs;
    this.estimates = state.estimates;
    this.pending = new QueuedTable(state.pending, this.queued);
  }

  /** A `BatchQueued` fact's batch joins the queue (an empty one would not, as in applyFact). */
  add(batch: QueuedBatch): void {
    if (batch.members.length > 0) this.queued.push(batch);
  }

  searchDevices(model: string, needBytes: number, skip: (uuid: string) => boolean, coldUs?: number): IndexCandidates {
    return this.state.searchDevices(model, needBytes, skip, coldUs);
  }

  modelLoaded(model: string): boolean {
    return this.state.modelLoaded(model);
  }

  overdueWorkers(cutoffMs: number): readonly WorkerRecord[] {
    return this.state.overdueWorkers(cutoffMs);
  }

  pendingByPriority(): readonly QueuedBatch[] {
    const base = this.state.pendingByPriority();
    if (this.queued.length === 0) return base;
    if (base.length === 0 && this.queued.length === 1) return this.queued;
    return [...base, ...this.queued].sort(pendingCompare);
  }

  workerIds(): string[] {
    return this.state.workerIds();
  }

  writeDevice(): never {
    throw readOnly();
  }

  writeWorkerBatch(): never {
    throw readOnly();
  }
}

function readOnly(): GpuflowError {
  return new GpuflowError('QueuedView is read-only: a decision that writes works on a Draft');
}

/** The state's pending table with the batches queued in this decision; read-only. */
class QueuedTable implements Table<QueuedBatch> {
  constructor(
    private readonly base: Table<QueuedBatch>,
    private readonly queued: readonly QueuedBatch[],
  ) {}
  get(batchId: string): QueuedBatch | undefined {
    for (const b of this.queued) if (b.batchId === batchId) return b;
    return this.base.get(batchId);
  }
  set(): never {
    throw readOnly();
  }
  delete(): never {
    throw readOnly();
  }
}
