import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GpuSample, Heartbeat } from '../../../src/domain/events/index.js';
import {
  bytesInShare,
  groupOfPartition,
  groupsOfPartitions,
  heartbeatInShare,
  NO_INHERITED_LOAD,
  sampleInShare,
  slotsOfGroup,
  type DeviceShare,
} from '../../../src/processors/dispatch/device-share.js';

const GIB = 1024 ** 3;

const heartbeat = (slots: number, inFlight: number, memTotalBytes = 80 * GIB): Heartbeat => ({
  workerId: 'w1', epoch: 3, node: 'n', timestampMs: 0, loadedModels: [], inFlightBatches: inFlight, capacity: slots - inFlight,
  devices: [{ uuid: 'GPU-a', index: 0, name: 'sim', memTotalBytes, pciBusId: '0', simulated: true }],
});

const sample = (freeBytes: number): GpuSample => ({
  deviceUuid: 'GPU-a', deviceIndex: 0, deviceName: 'sim', pciBusId: '0', node: 'n', timestampMs: 0, memTotalBytes: 80 * GIB, memUsedBytes: 80 * GIB - freeBytes,
  memFreeBytes: freeBytes, gpuUtil: 0, memUtil: 0, temperatureC: 0, powerW: 0, smClockMhz: 0, memClockMhz: 0, eccErrors: 0, simulated: true,
});

describe('device shares', () => {
  it('partitions fall into share groups by partition mod groups', () => {
    expect([0, 1, 2, 3, 4, 5].map((p) => groupOfPartition(p, 2))).toEqual([0, 1, 0, 1, 0, 1]);
    expect(groupsOfPartitions([5, 3, 1], 2)).toEqual([1]);
    expect(groupsOfPartitions([0, 1, 2, 3, 4, 5], 3)).toEqual([0, 1, 2]);
  });

  it("the groups' slots of a worker add up to its slots, each within one of an equal part (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 1, max: 12 }), fc.string(), (slots, groups, workerId) => {
        const parts = Array.from({ length: groups }, (_, g) => slotsOfGroup(slots, g, groups, workerId));
        expect(parts.reduce((a, b) => a + b, 0)).toBe(slots);
        expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('instances holding disjoint groups never see more slots or bytes together than the device has (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 16 }),
        fc.integer({ min: 0, max: 16 }),
        fc.integer({ min: 0, max: 80 * GIB }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.nat(),
        (groups, slots, running, free, seeds, batchSeed, byteSeed) => {
          const inFlight = Math.min(running, slots);
          // Each group to one of up to `seeds.length` instances.
          const owners = new Map<number, number[]>();
          for (let g = 0; g < groups; g++) {
            const owner = seeds[g % seeds.length]! % seeds.length;
            owners.set(owner, [...(owners.get(owner) ?? []), g]);
          }
          let totalSlots = 0;
          let totalFree = 0;
          let totalMem = 0;
          for (const [index, owned] of [...owners.values()].entries()) {
            const share: DeviceShare = { groups, owned };
            const empty = heartbeatInShare(heartbeat(slots, inFlight), share, NO_INHERITED_LOAD);
            // The first instance inherited batches, placed within its groups' share as every batch is.
            const batches = index === 0 ? batchSeed % (empty.capacity + 1) : 0;
            const bytes = index === 0 ? byteSeed % (bytesInShare(free, share) + 1) : 0;
            const load = { batchesByWorker: new Map([['w1@3', batches]]), bytesByDevice: new Map([['GPU-a', bytes]]) };
            const hb = heartbeatInShare(heartbeat(slots, inFlight), share, load);
            expect(hb.inFlightBatches).toBe(0);
            expect(hb.capacity).toBe(empty.capacity - batches);
            totalSlots += hb.capacity + batches;
            totalMem += hb.devices[0]!.memTotalBytes + bytes;
            totalFree += sampleInShare(sample(free), share, load).memFreeBytes + bytes;
          }
          expect(totalSlots).toBeLessThanOrEqual(slots);
          expect(totalMem).toBeLessThanOrEqual(80 * GIB);
          expect(totalFree).toBeLessThanOrEqual(free);
        },
      ),
    );
  });

  it('one group holding everything sees the whole device; inherited batches take their slots and bytes', () => {
    const all: DeviceShare = { groups: 1, owned: [0] };
    expect(heartbeatInShare(heartbeat(4, 1), all, NO_INHERITED_LOAD)).toMatchObject({ inFlightBatches: 0, capacity: 4, devices: [{ memTotalBytes: 80 * GIB }] });
    const load = { batchesByWorker: new Map([['w1@3', 1], ['w1@2', 5]]), bytesByDevice: new Map([['GPU-a', GIB]]) };
    expect(heartbeatInShare(heartbeat(4, 1), all, load)).toMatchObject({ capacity: 3, devices: [{ memTotalBytes: 79 * GIB }] });
    expect(sampleInShare(sample(10 * GIB), all, load).memFreeBytes).toBe(9 * GIB);
    const half: DeviceShare = { groups: 2, owned: [1] };
    expect(heartbeatInShare(heartbeat(4, 4), half, NO_INHERITED_LOAD).capacity).toBe(2);
    expect(bytesInShare(10, half)).toBe(5);
    expect(heartbeatInShare(heartbeat(4, 0), { groups: 2, owned: [] }, NO_INHERITED_LOAD).capacity).toBe(0);
  });
});
