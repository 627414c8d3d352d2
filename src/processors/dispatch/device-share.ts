/**
 * How dispatcher instances share devices without over-committing them. The partitions of
 * inference.requests fall into `groups` share groups (partition p is in group p mod groups), and
 * each group owns a fixed share of every worker's slots and of every device's memory. The consumer
 * group hands out whole share groups (src/kafka/co-partition-assigner.ts), so at any time one
 * instance places batches for a share group, and it alone uses that group's share, counting every
 * batch of the group that is in flight: its own, and those inherited with the partitions (from the
 * log, src/processors/dispatch/partition-ledger.ts). The shares of all groups add up to at most the
 * worker's slots and the device's memory, so instances together never over-commit a device, also
 * while partitions move between them.
 *
 * The scheduler is not told about shares: the instance shows it each heartbeat and telemetry
 * sample scaled to its share, less what inherited batches still occupy (`heartbeatInShare`,
 * `sampleInShare`). Free memory from a sample already excludes batches running on the device, so
 * this errs towards less room, never more.
 *
 * The price is capacity: a model can use only its own group's share. One share group (the default)
 * gives one instance everything and leaves the others as hot standbys.
 */
import type { GpuSample, Heartbeat } from '../../domain/events/index.js';

export interface DeviceShare {
  /** Share groups the partitions fall into: every instance of a deployment uses the same number. */
  groups: number;
  /** The groups this instance holds, ascending. */
  owned: readonly number[];
}

/** What batches inherited from another instance still occupy, until they report. */
export interface InheritedLoad {
  /** Batches per worker incarnation, keyed `workerId@epoch`. */
  batchesByWorker: ReadonlyMap<string, number>;
  /** Reserved bytes per device UUID. */
  bytesByDevice: ReadonlyMap<string, number>;
}

export const NO_INHERITED_LOAD: InheritedLoad = { batchesByWorker: new Map(), bytesByDevice: new Map() };

export const groupOfPartition = (partition: number, groups: number): number => partition % groups;

/** The share groups that own any of `partitions`, ascending. */
export function groupsOfPartitions(partitions: readonly number[], groups: number): number[] {
  return [...new Set(partitions.map((p) => groupOfPartition(p, groups)))].sort((a, b) => a - b);
}

/**
 * Slots of a worker with `slots` in all that belong to share group `group`: an equal part, and the
 * remainder spread over the groups by the worker's id so that no group gets every worker's extra.
 */
export function slotsOfGroup(slots: number, group: number, groups: number, workerId: string): number {
  const extra = slots % groups;
  const rank = (group + hashOf(workerId)) % groups;
  return Math.floor(slots / groups) + (rank < extra ? 1 : 0);
}

/** Bytes of `bytes` that the held groups own: an equal part per group, rounded down. */
export const bytesInShare = (bytes: number, share: DeviceShare): number => Math.floor(bytes / share.groups) * share.owned.length;

/** A heartbeat as this instance's scheduler should see it: its slots and memory, less inherited load. */
export function heartbeatInShare(hb: Heartbeat, share: DeviceShare, inherited: InheritedLoad): Heartbeat {
  const slots = hb.inFlightBatches + hb.capacity;
  const mine = share.owned.reduce((sum, g) => sum + slotsOfGroup(slots, g, share.groups, hb.workerId), 0);
  const busy = inherited.batchesByWorker.get(`${hb.workerId}@${hb.epoch}`) ?? 0;
  return {
    ...hb,
    inFlightBatches: 0,
    capacity: Math.max(0, mine - busy),
    devices: hb.devices.map((d) => ({ ...d, memTotalBytes: Math.max(0, bytesInShare(d.memTotalBytes, share) - (inherited.bytesByDevice.get(d.uuid) ?? 0)) })),
  };
}

/** A telemetry sample as this instance's scheduler should see it: its share of the free memory, less inherited reservations. */
export function sampleInShare(sample: GpuSample, share: DeviceShare, inherited: InheritedLoad): GpuSample {
  const free = Math.max(0, bytesInShare(sample.memFreeBytes, share) - (inherited.bytesByDevice.get(sample.deviceUuid) ?? 0));
  return { ...sample, memFreeBytes: free };
}

/** A small stable string hash (FNV-1a, 32 bits). */
function hashOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
