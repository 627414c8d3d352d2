import type { SchedulerConfig } from './config.js';
import { IndexedHeap } from './indexed-heap.js';
import type { QueuedBatch } from './records.js';
import { pairRank, type WorkerTopology } from './topology.js';
import { deviceEntry, entryLess, type DeviceEntry, type IndexCandidates, type SchedulerView } from './view.js';

/**
 * Where eligible devices are kept for placement. The state tells it of every change to a
 * device's eligibility, work or room; placement asks it for the best device with enough room.
 */
export interface DeviceIndex {
  update(uuid: string, entry: DeviceEntry | null): void;
  best(model: string, needBytes: number, skip: (uuid: string) => boolean): IndexCandidates;
}

/** Strict total order by room: most available bytes first, then uuid. */
function roomier(a: DeviceEntry, b: DeviceEntry): boolean {
  return a.availableBytes > b.availableBytes || (a.availableBytes === b.availableBytes && a.uuid < b.uuid);
}

/**
 * All eligible devices in two heaps, by work and by room. The least-work device with room is
 * found by walking both orders in step: by work until the first device with room (cheap when
 * most have room), and by room until the first without (cheap when few have room; the
 * least-work one among them wins). Whichever walk ends first answers, so a query costs
 * O(m log m) with m the shorter walk, and a full cluster is answered from the top of the room
 * heap at once instead of by a scan.
 */
class Pool {
  readonly byWork = new IndexedHeap<DeviceEntry>((e) => e.uuid, entryLess);
  readonly byRoom = new IndexedHeap<DeviceEntry>((e) => e.uuid, roomier);

  upsert(entry: DeviceEntry): void {
    this.byWork.upsert(entry);
    this.byRoom.upsert(entry);
  }

  remove(uuid: string): void {
    this.byWork.remove(uuid);
    this.byRoom.remove(uuid);
  }

  best(needBytes: number, skip: (uuid: string) => boolean): DeviceEntry | undefined {
    const top = this.byRoom.find((e) => !skip(e.uuid));
    if (!top || top.availableBytes < needBytes) return undefined;
    const work = this.byWork.ascending();
    const room = this.byRoom.ascending();
    let best: DeviceEntry | undefined;
    for (;;) {
      const w = work.next();
      if (w === undefined) return best;
      if (w.availableBytes >= needBytes && !skip(w.uuid)) return w;
      const r = room.next();
      if (r === undefined || r.availableBytes < needBytes) return best;
      if (!skip(r.uuid) && (best === undefined || entryLess(r, best))) best = r;
    }
  }
}

/**
 * Eligible devices for placement: one pool of all devices, and per loaded model a heap by work
 * of the devices whose worker has it (a model's devices are a small share of the cluster, so
 * walking that heap to the first device with room stays short).
 */
export class HeapDeviceIndex implements DeviceIndex {
  private readonly all = new Pool();
  private readonly byModel = new Map<string, IndexedHeap<DeviceEntry>>();
  private readonly modelsOf = new Map<string, readonly string[]>();

  update(uuid: string, entry: DeviceEntry | null): void {
    const before = this.modelsOf.get(uuid) ?? [];
    if (entry === null) {
      this.all.remove(uuid);
      for (const model of before) this.leave(model, uuid);
      this.modelsOf.delete(uuid);
      return;
    }
    this.all.upsert(entry);
    if (before !== entry.loadedModels) {
      for (const model of before) if (!entry.loadedModels.includes(model)) this.leave(model, uuid);
      this.modelsOf.set(uuid, entry.loadedModels);
    }
    for (const model of entry.loadedModels) {
      let heap = this.byModel.get(model);
      if (!heap) {
        heap = new IndexedHeap<DeviceEntry>((e) => e.uuid, entryLess);
        this.byModel.set(model, heap);
      }
      heap.upsert(entry);
    }
  }

  best(model: string, needBytes: number, skip: (uuid: string) => boolean): IndexCandidates {
    const loaded = this.byModel.get(model)?.find((e) => e.availableBytes >= needBytes && !skip(e.uuid));
    return { loaded, any: this.all.best(needBytes, skip) };
  }

  private leave(model: string, uuid: string): void {
    const heap = this.byModel.get(model);
    if (!heap) return;
    heap.remove(uuid);
    if (heap.size === 0) this.byModel.delete(model);
  }
}

/** A decided placement: the worker incarnation, its devices, and when the batch can start. */
export interface Placement {
  workerId: string;
  workerEpoch: number;
  deviceUuids: string[];
  /** Outstanding work ahead of the batch plus a cold load when the model is not loaded, µs. */
  startDelayUs: number;
  /** Worst link inside the group (0 NVLink .. 3 across NUMA); 0 for one device. */
  linkRank: number;
}

/** Bytes a batch needs on each device it runs on. */
export function batchNeedBytes(batch: QueuedBatch): number {
  return batch.memoryPerSampleBytes * batch.members.length;
}

/**
 * Chooses the device (or device group) for a batch: only eligible devices with room for it;
 * for a multi-GPU model the group with the best worst link first; then least outstanding work
 * counting a cold load where the model is not loaded; ties by uuid. Null when nothing fits now.
 */
export function choosePlacement(view: SchedulerView, batch: QueuedBatch, config: SchedulerConfig): Placement | null {
  const coldUs = Math.round(config.coldLoadMs * 1000);
  return batch.gpusPerReplica > 1 ? placeGroup(view, batch, coldUs) : placeSingle(view, batch, coldUs);
}

function placeSingle(view: SchedulerView, batch: QueuedBatch, coldUs: number): Placement | null {
  const { loaded, any } = view.searchDevices(batch.model, batchNeedBytes(batch), () => false);
  let best: DeviceEntry | undefined = loaded;
  let bestCost = loaded ? loaded.outstandingUs : Infinity;
  if (any) {
    const cost = any.outstandingUs + (any.loadedModels.includes(batch.model) ? 0 : coldUs);
    if (cost < bestCost || (cost === bestCost && best !== undefined && any.uuid < best.uuid)) {
      best = any;
      bestCost = cost;
    }
  }
  if (!best) return null;
  const worker = view.workers.get(best.workerId);
  if (!worker) return null;
  return { workerId: worker.workerId, workerEpoch: worker.epoch, deviceUuids: [best.uuid], startDelayUs: bestCost, linkRank: 0 };
}

/**
 * Multi-GPU models run inside one worker. Workers are scanned (a replica spanning GPUs is
 * rare and a worker has a few devices); within one, each device seeds a group grown by the
 * nearest link, then least work.
 */
function placeGroup(view: SchedulerView, batch: QueuedBatch, coldUs: number): Placement | null {
  const need = batchNeedBytes(batch);
  const k = batch.gpusPerReplica;
  let best: Placement | null = null;
  for (const workerId of view.workerIds()) {
    const worker = view.workers.get(workerId);
    if (!worker || worker.deviceUuids.length < k) continue;
    const fitting: DeviceEntry[] = [];
    for (const uuid of worker.deviceUuids) {
      const entry = deviceEntry(view, uuid);
      if (entry && entry.availableBytes >= need) fitting.push(entry);
    }
    if (fitting.length < k) continue;
    fitting.sort((a, b) => (entryLess(a, b) ? -1 : 1));
    const group = bestGroup(fitting, k, worker.topology);
    const cold = worker.loadedModels.includes(batch.model) ? 0 : coldUs;
    const candidate: Placement = {
      workerId,
      workerEpoch: worker.epoch,
      deviceUuids: group.members.map((e) => e.uuid).sort(),
      startDelayUs: group.maxOutstandingUs + cold,
      linkRank: group.rank,
    };
    if (best === null || betterGroup(candidate, best)) best = candidate;
  }
  return best;
}

function betterGroup(a: Placement, b: Placement): boolean {
  if (a.linkRank !== b.linkRank) return a.linkRank < b.linkRank;
  if (a.startDelayUs !== b.startDelayUs) return a.startDelayUs < b.startDelayUs;
  return (a.deviceUuids[0] as string) < (b.deviceUuids[0] as string);
}

interface Group {
  members: DeviceEntry[];
  rank: number;
  maxOutstandingUs: number;
}

function bestGroup(sorted: DeviceEntry[], k: number, topology: WorkerTopology): Group {
  let best: Group | null = null;
  for (const seed of sorted) {
    const members = [seed];
    let rank = 0;
    while (members.length < k) {
      let pick: DeviceEntry | null = null;
      let pickRank = Infinity;
      for (const e of sorted) {
        if (members.includes(e)) continue;
        let worst = 0;
        for (const m of members) worst = Math.max(worst, pairRank(topology, m.uuid, e.uuid));
        if (worst < pickRank) {
          pick = e;
          pickRank = worst;
        }
      }
      members.push(pick as DeviceEntry);
      rank = Math.max(rank, pickRank);
    }
    const maxOutstandingUs = Math.max(...members.map((m) => m.outstandingUs));
    if (best === null || rank < best.rank || (rank === best.rank && maxOutstandingUs < best.maxOutstandingUs)) {
      best = { members, rank, maxOutstandingUs };
    }
  }
  return best as Group;
}
