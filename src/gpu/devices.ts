/**
 * The two small interfaces behind which gpuflow sees GPUs: what devices a node has
 * (DeviceInventory) and what they read now (TelemetrySource). NVML and simulated
 * implementations exist; a simulated one says so in every answer.
 */
import type { DeviceInfo, GpuSample } from '../domain/events/index.js';

export type NvLinkState = 'ACTIVE' | 'INACTIVE' | 'NOT_SUPPORTED';

/** NVML's nvmlGpuTopologyLevel_t: how far apart two GPUs are, nearest first. */
export type TopologyLevel = 'INTERNAL' | 'SINGLE' | 'MULTIPLE' | 'HOSTBRIDGE' | 'NODE' | 'SYSTEM' | 'UNKNOWN';

export const TOPOLOGY_LEVELS: Readonly<Record<number, TopologyLevel>> = {
  0: 'INTERNAL',
  10: 'SINGLE',
  20: 'MULTIPLE',
  30: 'HOSTBRIDGE',
  40: 'NODE',
  50: 'SYSTEM',
};

/** Everything discovery knows about one device; the DeviceInfo part goes into heartbeats. */
export interface GpuDeviceDetails extends DeviceInfo {
  /** "9.0" for Hopper. */
  computeCapability: string;
  /** null when the device does not support MIG. */
  migEnabled: boolean | null;
  /** One entry per NVLink; all NOT_SUPPORTED on a PCIe card without NVLink. */
  nvlinks: NvLinkState[];
  powerLimitW: number | null;
}

/** The common ancestor of two devices in the PCIe / NVLink tree. */
export interface TopologyLink {
  a: number;
  b: number;
  level: TopologyLevel;
}

export interface DeviceInventory {
  readonly simulated: boolean;
  driverVersion(): string;
  devices(): GpuDeviceDetails[];
  /** Pairs of devices (a < b) with their common ancestor; empty with fewer than two devices. */
  topology(): TopologyLink[];
  close(): void;
}

export interface TelemetrySource {
  readonly simulated: boolean;
  deviceCount(): number;
  /** One reading of one device, stamped with the caller's clock. */
  read(deviceIndex: number, timestampMs: number): GpuSample;
  close(): void;
}
