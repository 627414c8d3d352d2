import type { DeviceIndex, DeviceKey } from '../../src/processors/scheduling/placement.js';
import { entryLess, type DeviceEntry, type IndexCandidates } from '../../src/processors/scheduling/view.js';

/**
 * The baseline: keep the eligible devices in a table and scan all of them for every batch,
 * as a first scheduler would. It answers exactly what the heap index answers (the same total
 * order), so the benchmark can check both runs decide the same.
 */
export class ScanDeviceIndex implements DeviceIndex {
  private readonly entries = new Map<string, DeviceEntry>();

  update(device: DeviceKey, entry: DeviceEntry | null): void {
    if (entry) this.entries.set(device.uuid, entry);
    else this.entries.delete(device.uuid);
  }

  best(model: string, needBytes: number, skip: (uuid: string) => boolean): IndexCandidates {
    let loaded: DeviceEntry | undefined;
    let any: DeviceEntry | undefined;
    for (const e of this.entries.values()) {
      if (e.availableBytes < needBytes || skip(e.uuid)) continue;
      if (!any || entryLess(e, any)) any = e;
      if ((!loaded || entryLess(e, loaded)) && e.loadedModels.includes(model)) loaded = e;
    }
    return { loaded, any };
  }
}
