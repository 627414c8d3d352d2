/** One NVML reading of one device (gpu.telemetry, key: device UUID). Memory in bytes. */
export interface GpuSample {
  deviceUuid: string;
  deviceIndex: number;
  deviceName: string;
  pciBusId: string;
  node: string;
  timestampMs: number;
  memTotalBytes: number;
  memUsedBytes: number;
  memFreeBytes: number;
  /** Percent, 0..100. */
  gpuUtil: number;
  memUtil: number;
  temperatureC: number;
  powerW: number;
  smClockMhz: number;
  memClockMhz: number;
  eccErrors: number;
  /** True when no real device stands behind the reading. */
  simulated: boolean;
}

/** A device as a worker reports it in its heartbeat. */
export interface DeviceInfo {
  uuid: string;
  index: number;
  name: string;
  memTotalBytes: number;
  pciBusId: string;
  simulated: boolean;
}

/** gpu.heartbeats, key: worker id. */
export interface Heartbeat {
  workerId: string;
  /** Grows each time the worker process starts, so stale incarnations are recognised. */
  epoch: number;
  node: string;
  timestampMs: number;
  devices: DeviceInfo[];
  /** Names of the models the worker has a version of loaded (placement prefers these). */
  loadedModels: string[];
  inFlightBatches: number;
  /** How many more batches the worker will accept now. */
  capacity: number;
}
