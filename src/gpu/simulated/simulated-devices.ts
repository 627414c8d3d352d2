/**
 * Simulated GPUs for machines without NVIDIA hardware: the same interfaces as NVML, with
 * `simulated: true` on every device and every sample. Readings come from a pure function of
 * (device, time) so that a scenario (a memory leak, a hot card) replays identically.
 */
import type { GpuSample } from '../../domain/events/index.js';
import type { DeviceInventory, GpuDeviceDetails, TelemetrySource, TopologyLink } from '../devices.js';

export interface SimulatedDeviceSpec {
  name: string;
  memTotalBytes: number;
  computeCapability: string;
  powerLimitW: number;
}

/** The readings a scenario controls; anything left out reads as an idle device. */
export type SimulatedReading = Partial<
  Pick<GpuSample, 'memUsedBytes' | 'gpuUtil' | 'memUtil' | 'temperatureC' | 'powerW' | 'smClockMhz' | 'memClockMhz' | 'eccErrors'>
>;

export type ReadingFunction = (deviceIndex: number, timestampMs: number, spec: SimulatedDeviceSpec) => SimulatedReading;

export const H100_SXM: SimulatedDeviceSpec = { name: 'NVIDIA H100 80GB HBM3 (simulated)', memTotalBytes: 85_520_809_984, computeCapability: '9.0', powerLimitW: 700 };
export const H200: SimulatedDeviceSpec = { name: 'NVIDIA H200 (simulated)', memTotalBytes: 150_754_820_096, computeCapability: '9.0', powerLimitW: 700 };

const IDLE: ReadingFunction = () => ({});

/** A UUID in NVML's format that is stable for a (node, index) pair and marked as simulated. */
export function simulatedUuid(node: string, index: number): string {
  let h = 0x811c9dc5;
  for (const ch of `${node}/${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  const hex = h.toString(16).padStart(8, '0');
  return `GPU-${hex}-0000-5349-4d55-${index.toString(16).padStart(12, '0')}`;
}

export class SimulatedDevices implements DeviceInventory, TelemetrySource {
  readonly simulated = true;

  constructor(
    private readonly specs: readonly SimulatedDeviceSpec[],
    private readonly options: { node: string; reading?: ReadingFunction },
  ) {}

  driverVersion(): string {
    return 'simulated';
  }

  deviceCount(): number {
    return this.specs.length;
  }

  devices(): GpuDeviceDetails[] {
    return this.specs.map((spec, index) => ({
      uuid: simulatedUuid(this.options.node, index),
      index,
      name: spec.name,
      memTotalBytes: spec.memTotalBytes,
      pciBusId: `00000000:${(index + 1).toString(16).padStart(2, '0')}:00.0`,
      simulated: true,
      computeCapability: spec.computeCapability,
      migEnabled: false,
      nvlinks: [],
      powerLimitW: spec.powerLimitW,
    }));
  }

  topology(): TopologyLink[] {
    const links: TopologyLink[] = [];
    for (let a = 0; a < this.specs.length; a++) for (let b = a + 1; b < this.specs.length; b++) links.push({ a, b, level: 'SYSTEM' });
    return links;
  }

  read(deviceIndex: number, timestampMs: number): GpuSample {
    const spec = this.specs[deviceIndex];
    if (!spec) throw new RangeError(`no simulated GPU with index ${deviceIndex} (have ${this.specs.length})`);
    const r = (this.options.reading ?? IDLE)(deviceIndex, timestampMs, spec);
    const used = Math.min(spec.memTotalBytes, Math.max(0, r.memUsedBytes ?? 512 * 2 ** 20));
    return {
      deviceUuid: simulatedUuid(this.options.node, deviceIndex),
      deviceIndex,
      deviceName: spec.name,
      pciBusId: `00000000:${(deviceIndex + 1).toString(16).padStart(2, '0')}:00.0`,
      node: this.options.node,
      timestampMs,
      memTotalBytes: spec.memTotalBytes,
      memUsedBytes: used,
      memFreeBytes: spec.memTotalBytes - used,
      gpuUtil: r.gpuUtil ?? 0,
      memUtil: r.memUtil ?? 0,
      temperatureC: r.temperatureC ?? 34,
      powerW: r.powerW ?? 75,
      smClockMhz: r.smClockMhz ?? 345,
      memClockMhz: r.memClockMhz ?? 2619,
      eccErrors: r.eccErrors ?? 0,
      simulated: true,
    };
  }

  close(): void {}
}
