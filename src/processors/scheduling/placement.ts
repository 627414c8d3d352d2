import type { SchedulerConfig } from './config.js';
import type { QueuedBatch } from './records.js';
import { SlotHeap, type SlotKeys } from './slot-heap.js';
import { pairRank, type WorkerTopology } from './topology.js';
import { deviceEntry, entryLess, type DeviceEntry, type IndexCandidates, type SchedulerView } from './view.js';

/**
 * How the state names a device to its index: one object per device for the state's life (its
 * DeviceCell), with a slot field the index may use to find its own entry without a lookup by
 * uuid (-1 until the index sets it). Only the index writes `slot`.
 */
export interface DeviceKey {
  readonly uuid: string;
  slot: number;
}

/**
 * Where eligible devices are kept for placement. The state tells it of every change to a
 * device's eligibility, work or room; placement asks it for the best device with enough room.
 */
export interface DeviceIndex {
  update(device: DeviceKey, entry: DeviceEntry | null): void;
  /**
   * With `coldUs`, `any` may be left out when `loaded` was found with less outstanding work
   * than a cold load: no device without the model can then cost less, and none with it is
   * better than `loaded`.
   */
  best(model: string, needBytes: number, skip: (uuid: string) => boolean, coldUs?: number): IndexCandidates;
}

/**
 * Eligible devices for placement, numbered with slots. Their work and room live in typed
 * arrays, ordered by three kinds of heap over slots: all devices by work, all devices by room,
 * and per loaded model its devices by work (a model's devices are a small share of the cluster,
 * so walking that heap to the first device with room stays short). An update moves a device
 * only in the heaps whose key changed: a telemetry sample touches the room heap alone.
 *
 * The least-work device with room is found by walking the work and room orders in step: by
 * work until the first device with room (cheap when most have room), and by room until the
 * first without (cheap when few have room; the least-work one among them wins). Whichever walk
 * ends first answers, so a query costs O(m log m) with m the shorter walk, and a full cluster
 * is answered from the top of the room heap at once instead of by a scan.
 *
 * The two cluster-wide heaps catch up lazily: a device whose work or room changed is only
 * marked, and the heaps move the marked devices when a query walks them. A query that finds a
 * warm device with less work than a cold load does not need them at all (see `best`), so on a
 * cluster where most models are loaded somewhere they are walked, and moved, rarely. They
 * order by their own copy of the keys, so a device changed but not yet moved never breaks
 * their order; the per-model heaps read the current work and move at once.
 */
export class HeapDeviceIndex implements DeviceIndex {
  private readonly free: number[] = [];
  /** The key holding each slot (its `slot` field names the slot back), and its uuid. */
  private readonly keys: Array<DeviceKey | null> = [];
  private readonly uuids: string[] = [];
  private readonly entries: Array<DeviceEntry | null> = [];
  private readonly models: Array<readonly string[]> = [];
  /** The per-model heaps each slot is in (those of its loaded models). */
  private readonly modelHeaps: SlotHeap[][] = [];
  /**
   * Outstanding work and available bytes per slot, each with a rank per slot that follows
   * uuid order, so that ties are broken by comparing two numbers instead of two strings. A
   * device that joins alone takes the midpoint of its neighbours' ranks; only when no number
   * is left between them are all slots renumbered, so such a join costs O(log devices) plus,
   * now and then, O(devices). Many devices joining at once (a cluster starting, a restore)
   * are sorted among themselves and merged into uuid order in one pass instead (`settle`).
   * Both key sets share one rank array.
   */
  private readonly work: SlotKeys = { value: new Float64Array(16), rank: new Float64Array(16) };
  private readonly room: SlotKeys = { value: new Float64Array(16), rank: this.work.rank };
  /** The work and room the cluster-wide heaps last ordered each slot by. */
  private readonly heapWork: SlotKeys = { value: new Float64Array(16), rank: this.work.rank };
  private readonly heapRoom: SlotKeys = { value: new Float64Array(16), rank: this.work.rank };
  /** Slots whose work or room moved since the cluster-wide heaps last saw them (flag and list). */
  private marked = new Uint8Array(16);
  private readonly markedList: number[] = [];
  /**
   * Slots of devices that joined since the last query (flag and list): they have their keys
   * but no rank and are in no heap yet. The next query (or the giving up of parked slots)
   * ranks them all at once and puts the eligible ones in their heaps.
   */
  private joiningFlag = new Uint8Array(16);
  private readonly joining: number[] = [];
  /** Slots in uuid order. */
  private byUuid: number[] = [];
  /** Slots whose device is eligible (in the heaps); the others are parked. */
  private active = 0;
  /** Least outstanding work first, then uuid. */
  private readonly byWork = new SlotHeap(this.heapWork);
  /** Most available bytes first, then uuid. */
  private readonly byRoom = new SlotHeap(this.heapRoom, true);
  private readonly byModel = new Map<string, SlotHeap>();

  update(device: DeviceKey, entry: DeviceEntry | null): void {
    let slot = device.slot;
    if (entry === null) {
      if (slot >= 0 && this.entries[slot] !== null) this.park(slot);
      return;
    }
    if (slot < 0) {
      slot = this.allocate(device);
      this.joiningFlag[slot] = 1;
      this.joining.push(slot);
    }
    if (this.joiningFlag[slot] === 1) {
      // Not ranked yet: keep the keys; `settle` puts the slot in its heaps.
      if (this.entries[slot] === null) this.active += 1;
      this.entries[slot] = entry;
      this.work.value[slot] = entry.outstandingUs;
      this.room.value[slot] = entry.availableBytes;
      this.models[slot] = entry.loadedModels;
      return;
    }
    const fresh = this.entries[slot] === null;
    if (fresh) this.active += 1;
    const work = this.work.value;
    const room = this.room.value;
    const workMoved = fresh || work[slot] !== entry.outstandingUs;
    const roomMoved = fresh || room[slot] !== entry.availableBytes;
    this.entries[slot] = entry;
    work[slot] = entry.outstandingUs;
    room[slot] = entry.availableBytes;
    if (fresh) {
      this.heapWork.value[slot] = entry.outstandingUs;
      this.heapRoom.value[slot] = entry.availableBytes;
      this.byWork.upsert(slot);
      this.byRoom.upsert(slot);
    } else if ((workMoved || roomMoved) && this.marked[slot] === 0) {
      this.marked[slot] = 1;
      this.markedList.push(slot);
    }
    const before = this.models[slot]!;
    if (before !== entry.loadedModels) {
      for (const model of before) if (!entry.loadedModels.includes(model)) this.leave(model, slot);
      const heaps = entry.loadedModels.map((model) => this.modelHeap(model));
      for (const heap of heaps) heap.upsert(slot);
      this.models[slot] = entry.loadedModels;
      this.modelHeaps[slot] = heaps;
    } else if (workMoved) {
      for (const heap of this.modelHeaps[slot]!) heap.upsert(slot);
    }
  }

  best(model: string, needBytes: number, skip: (uuid: string) => boolean, coldUs?: number): IndexCandidates {
    if (this.joining.length > 0) this.settle();
    let loaded: DeviceEntry | undefined;
    const heap = this.byModel.get(model);
    if (heap) {
      const room = this.room.value;
      heap.walk();
      for (let s = heap.next(); s >= 0; s = heap.next()) {
        if (room[s]! >= needBytes && !skip(this.uuids[s]!)) {
          loaded = this.entries[s] ?? undefined;
          break;
        }
      }
    }
    if (loaded !== undefined && coldUs !== undefined && loaded.outstandingUs < coldUs) return { loaded, any: undefined };
    this.catchUp();
    const any = this.bestAny(needBytes, skip);
    return { loaded, any: any < 0 ? undefined : (this.entries[any] ?? undefined) };
  }

  /** Moves the marked slots in the cluster-wide heaps. */
  private catchUp(): void {
    const { marked, markedList } = this;
    const work = this.work.value;
    const room = this.room.value;
    const heapWork = this.heapWork.value;
    const heapRoom = this.heapRoom.value;
    for (const slot of markedList) {
      marked[slot] = 0;
      if (this.entries[slot] === null) continue;
      if (heapWork[slot] !== work[slot]) {
        heapWork[slot] = work[slot]!;
        this.byWork.upsert(slot);
      }
      if (heapRoom[slot] !== room[slot]) {
        heapRoom[slot] = room[slot]!;
        this.byRoom.upsert(slot);
      }
    }
    markedList.length = 0;
  }

  /** The least-work device with room, by the two walks in step; -1 when none has room. */
  private bestAny(needBytes: number, skip: (uuid: string) => boolean): number {
    const { byWork, byRoom, uuids } = this;
    const room = this.heapRoom.value;
    byRoom.walk();
    let top = byRoom.next();
    while (top >= 0 && skip(uuids[top]!)) top = byRoom.next();
    if (top < 0 || room[top]! < needBytes) return -1;
    byWork.walk();
    byRoom.walk();
    let best = -1;
    for (;;) {
      const w = byWork.next();
      if (w < 0) return best;
      if (room[w]! >= needBytes && !skip(uuids[w]!)) return w;
      const r = byRoom.next();
      if (r < 0 || room[r]! < needBytes) return best;
      if (!skip(uuids[r]!) && (best < 0 || byWork.less(r, best))) best = r;
    }
  }

  private allocate(device: DeviceKey): number {
    const uuid = device.uuid;
    const slot = this.free.pop() ?? this.uuids.length;
    if (slot === this.uuids.length) {
      this.keys.push(device);
      this.uuids.push(uuid);
      this.entries.push(null);
      this.models.push(NO_MODELS);
      this.modelHeaps.push([]);
      if (slot >= this.work.value.length) {
        const length = Math.max(slot + 1, this.work.value.length * 2);
        this.work.value = grown(this.work.value, length);
        this.room.value = grown(this.room.value, length);
        this.heapWork.value = grown(this.heapWork.value, length);
        this.heapRoom.value = grown(this.heapRoom.value, length);
        this.work.rank = this.room.rank = this.heapWork.rank = this.heapRoom.rank = grown(this.work.rank, length);
        this.marked = grownFlags(this.marked, length);
        this.joiningFlag = grownFlags(this.joiningFlag, length);
      }
    } else {
      this.keys[slot] = device;
      this.uuids[slot] = uuid;
    }
    device.slot = slot;
    return slot;
  }

  /**
   * Ranks the joining slots and puts the eligible ones in their heaps. A few are placed one by
   * one in uuid order (binary search); more are sorted and merged with the ranked slots in one
   * pass, and every slot renumbered: O(devices + k log k) for k joining at once, instead of a
   * splice into the order per device.
   */
  private settle(): void {
    const { joining, uuids } = this;
    if (joining.length <= FEW_JOINING) {
      for (const slot of joining) this.placeInOrder(slot);
    } else {
      joining.sort((a, b) => (uuids[a]! < uuids[b]! ? -1 : 1));
      const ranked = this.byUuid;
      const merged: number[] = [];
      let i = 0;
      let j = 0;
      while (i < ranked.length || j < joining.length) {
        if (j >= joining.length || (i < ranked.length && uuids[ranked[i]!]! < uuids[joining[j]!]!)) merged.push(ranked[i++]!);
        else merged.push(joining[j++]!);
      }
      this.byUuid = merged;
      this.renumber();
    }
    // In uuid order (when sorted), so that devices with equal keys go in without moving. A
    // worker's devices share one list of loaded models, and then one list of heaps: no slot's
    // list is changed in place, only replaced.
    let lastModels: readonly string[] | null = null;
    let lastHeaps: SlotHeap[] = [];
    for (const slot of joining) {
      this.joiningFlag[slot] = 0;
      const entry = this.entries[slot];
      if (entry === null || entry === undefined) {
        this.models[slot] = NO_MODELS;
        continue;
      }
      this.heapWork.value[slot] = this.work.value[slot]!;
      this.heapRoom.value[slot] = this.room.value[slot]!;
      this.byWork.upsert(slot);
      this.byRoom.upsert(slot);
      if (entry.loadedModels !== lastModels) {
        lastModels = entry.loadedModels;
        lastHeaps = lastModels.map((model) => this.modelHeap(model));
      }
      for (const heap of lastHeaps) heap.upsert(slot);
      this.modelHeaps[slot] = lastHeaps;
    }
    joining.length = 0;
  }

  /** Puts one slot in uuid order, ranked between its neighbours. */
  private placeInOrder(slot: number): void {
    const uuid = this.uuids[slot]!;
    let lo = 0;
    let hi = this.byUuid.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.uuids[this.byUuid[mid]!]! < uuid) lo = mid + 1;
      else hi = mid;
    }
    this.byUuid.splice(lo, 0, slot);
    const ranks = this.work.rank;
    const before = lo > 0 ? ranks[this.byUuid[lo - 1]!]! : null;
    const after = lo + 1 < this.byUuid.length ? ranks[this.byUuid[lo + 1]!]! : null;
    const rank = before === null ? (after === null ? 0 : after - 1) : after === null ? before + 1 : (before + after) / 2;
    if (rank === before || rank === after) this.renumber();
    else ranks[slot] = rank;
  }

  /**
   * The device is not eligible now: out of every heap. It keeps its slot (and its place in
   * uuid order), since most devices come back soon (a worker's slots free up, an alert
   * clears); once parked slots outnumber the eligible ones, they are all given up at once.
   */
  private park(slot: number): void {
    this.byWork.remove(slot);
    this.byRoom.remove(slot);
    for (const model of this.models[slot]!) this.leave(model, slot);
    this.models[slot] = NO_MODELS;
    this.modelHeaps[slot] = [];
    this.entries[slot] = null;
    this.active -= 1;
    if (this.uuids.length - this.free.length - this.active <= Math.max(64, this.active)) return;
    if (this.joining.length > 0) this.settle();
    let kept = 0;
    for (const s of this.byUuid) {
      if (this.entries[s] !== null) this.byUuid[kept++] = s;
      else {
        this.keys[s]!.slot = -1;
        this.keys[s] = null;
        this.free.push(s);
      }
    }
    this.byUuid.length = kept;
  }

  private renumber(): void {
    const ranks = this.work.rank;
    for (let i = 0; i < this.byUuid.length; i++) ranks[this.byUuid[i]!] = i;
  }

  private modelHeap(model: string): SlotHeap {
    let heap = this.byModel.get(model);
    if (!heap) {
      heap = new SlotHeap(this.work);
      this.byModel.set(model, heap);
    }
    return heap;
  }

  private leave(model: string, slot: number): void {
    const heap = this.byModel.get(model);
    if (!heap) return;
    heap.remove(slot);
    if (heap.size === 0) this.byModel.delete(model);
  }
}

const NO_MODELS: readonly string[] = [];
/** Up to this many devices joining at once are placed in uuid order one by one. */
const FEW_JOINING = 8;

/** A copy of `flags` with room for `length` of them. */
function grownFlags(flags: Uint8Array<ArrayBuffer>, length: number): Uint8Array<ArrayBuffer> {
  const bigger = new Uint8Array(length);
  bigger.set(flags);
  return bigger;
}

/** A copy of `array` with room for `length` numbers. */
function grown(array: Float64Array, length: number): Float64Array {
  const bigger = new Float64Array(length);
  bigger.set(array);
  return bigger;
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

const noSkip = (): boolean => false;

function placeSingle(view: SchedulerView, batch: QueuedBatch, coldUs: number): Placement | null {
  const { loaded, any } = view.searchDevices(batch.model, batchNeedBytes(batch), noSkip, coldUs);
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
