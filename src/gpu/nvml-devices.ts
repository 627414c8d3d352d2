/**
 * NVML behind DeviceInventory and TelemetrySource. Handles are resolved once; a reading
 * costs four to seven NVML calls per device (memory, utilisation, temperature, power,
 * clocks, ECC). Optional readings that a device does not support read as 0, never as errors.
 */
import { hostname } from 'node:os';
import { NoGpuError } from '../domain/errors.js';
import type { GpuSample } from '../domain/events/index.js';
import type { DeviceInventory, GpuDeviceDetails, NvLinkState, TelemetrySource, TopologyLink } from './devices.js';
import { TOPOLOGY_LEVELS } from './devices.js';
import { GpuCallError } from './errors.js';
import { toNumber } from './native.js';
import {
  loadNvml,
  NVML_CLOCK_MEM,
  NVML_CLOCK_SM,
  NVML_DEVICE_NAME_BUFFER_SIZE,
  NVML_DEVICE_UUID_BUFFER_SIZE,
  NVML_ERROR_NOT_SUPPORTED,
  NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
  NVML_MEMORY_V2_VERSION,
  NVML_NVLINK_MAX_LINKS,
  NVML_SUCCESS,
  NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE,
  NVML_TEMPERATURE_GPU,
  NVML_VOLATILE_ECC,
  type NvmlApi,
} from './nvml.js';

interface MemoryInfo {
  total: number | bigint;
  free: number | bigint;
  used: number | bigint;
}

function cString(buffer: Buffer): string {
  const end = buffer.indexOf(0);
  return buffer.toString('utf8', 0, end < 0 ? buffer.length : end);
}

/** Both interfaces over one NVML session; `open()` initialises NVML or throws NoGpuError. */
export class NvmlDevices implements DeviceInventory, TelemetrySource {
  readonly simulated = false;
  private readonly handles: unknown[];
  private closed = false;

  private constructor(
    private readonly api: NvmlApi,
    private readonly node: string,
  ) {
    const count = [0];
    this.check('nvmlDeviceGetCount_v2', api.deviceGetCount(count) as number);
    this.handles = [];
    for (let i = 0; i < (count[0] as number); i++) {
      const handle: unknown[] = [null];
      this.check('nvmlDeviceGetHandleByIndex_v2', api.deviceGetHandleByIndex(i, handle) as number);
      this.handles.push(handle[0]);
    }
  }

  /** Initialises NVML. No library, no driver or no device all become NoGpuError with NVML's reason. */
  static open(options: { node?: string } = {}): NvmlDevices {
    const api = loadNvml();
    const rc = api.init() as number;
    if (rc !== NVML_SUCCESS) {
      throw new NoGpuError(`NVML found (${api.path}) but nvmlInit failed: ${String(api.errorString(rc))} (status ${rc})`);
    }
    try {
      const devices = new NvmlDevices(api, options.node ?? hostname());
      if (devices.deviceCount() === 0) throw new NoGpuError('NVML is initialised but reports no GPU');
      return devices;
    } catch (error) {
      api.shutdown();
      throw error;
    }
  }

  deviceCount(): number {
    return this.handles.length;
  }

  driverVersion(): string {
    const buffer = Buffer.alloc(NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE);
    this.check('nvmlSystemGetDriverVersion', this.api.systemGetDriverVersion(buffer, buffer.length) as number);
    return cString(buffer);
  }

  devices(): GpuDeviceDetails[] {
    return this.handles.map((_, index) => this.describe(index));
  }

  topology(): TopologyLink[] {
    const links: TopologyLink[] = [];
    const fn = this.api.deviceGetTopologyCommonAncestor;
    for (let a = 0; a < this.handles.length; a++) {
      for (let b = a + 1; b < this.handles.length; b++) {
        const level = [0];
        const rc = fn ? (fn(this.handles[a], this.handles[b], level) as number) : NVML_ERROR_NOT_SUPPORTED;
        links.push({ a, b, level: rc === NVML_SUCCESS ? (TOPOLOGY_LEVELS[level[0] as number] ?? 'UNKNOWN') : 'UNKNOWN' });
      }
    }
    return links;
  }

  read(deviceIndex: number, timestampMs: number): GpuSample {
    const handle = this.handle(deviceIndex);
    const api = this.api;
    const memory: Partial<MemoryInfo> = {};
    this.check('nvmlDeviceGetMemoryInfo', api.deviceGetMemoryInfo(handle, memory) as number);
    const util: { gpu?: number; memory?: number } = {};
    const utilRc = api.deviceGetUtilizationRates(handle, util) as number;
    const identity = this.identity(deviceIndex);
    return {
      deviceUuid: identity.uuid,
      deviceIndex,
      deviceName: identity.name,
      pciBusId: identity.pciBusId,
      node: this.node,
      timestampMs,
      memTotalBytes: toNumber(memory.total ?? 0),
      memUsedBytes: toNumber(memory.used ?? 0),
      memFreeBytes: toNumber(memory.free ?? 0),
      gpuUtil: utilRc === NVML_SUCCESS ? (util.gpu ?? 0) : 0,
      memUtil: utilRc === NVML_SUCCESS ? (util.memory ?? 0) : 0,
      temperatureC: this.optionalUint((out) => api.deviceGetTemperature(handle, NVML_TEMPERATURE_GPU, out) as number),
      powerW: this.optionalUint((out) => api.deviceGetPowerUsage(handle, out) as number) / 1000,
      smClockMhz: this.optionalUint((out) => api.deviceGetClockInfo(handle, NVML_CLOCK_SM, out) as number),
      memClockMhz: this.optionalUint((out) => api.deviceGetClockInfo(handle, NVML_CLOCK_MEM, out) as number),
      eccErrors: this.optionalUint(
        (out) => api.deviceGetTotalEccErrors(handle, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC, out) as number,
      ),
      simulated: false,
    };
  }

  /**
   * Memory as nvmlDeviceGetMemoryInfo_v2 sees it, with the driver's reserved part split out
   * (recent drivers count it in `used`; CUDA's total excludes it). null when the driver lacks v2.
   */
  memoryDetail(deviceIndex: number): { totalBytes: number; reservedBytes: number; usedBytes: number; freeBytes: number } | null {
    const fn = this.api.deviceGetMemoryInfoV2;
    if (!fn) return null;
    const memory: Record<string, number | bigint> = { version: NVML_MEMORY_V2_VERSION, total: 0, reserved: 0, free: 0, used: 0 };
    if ((fn(this.handle(deviceIndex), memory) as number) !== NVML_SUCCESS) return null;
    return {
      totalBytes: toNumber(memory.total),
      reservedBytes: toNumber(memory.reserved),
      usedBytes: toNumber(memory.used),
      freeBytes: toNumber(memory.free),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.api.shutdown();
  }

  private readonly identities = new Map<number, { uuid: string; name: string; pciBusId: string }>();

  /** Name, UUID and bus id never change while NVML is open: read once. */
  private identity(index: number): { uuid: string; name: string; pciBusId: string } {
    const known = this.identities.get(index);
    if (known) return known;
    const handle = this.handle(index);
    const name = Buffer.alloc(NVML_DEVICE_NAME_BUFFER_SIZE);
    this.check('nvmlDeviceGetName', this.api.deviceGetName(handle, name, name.length) as number);
    const uuid = Buffer.alloc(NVML_DEVICE_UUID_BUFFER_SIZE);
    this.check('nvmlDeviceGetUUID', this.api.deviceGetUUID(handle, uuid, uuid.length) as number);
    const pci: { busId?: string } = {};
    this.check('nvmlDeviceGetPciInfo_v3', this.api.deviceGetPciInfo(handle, pci) as number);
    const identity = { uuid: cString(uuid), name: cString(name), pciBusId: pci.busId ?? '' };
    this.identities.set(index, identity);
    return identity;
  }

  private describe(index: number): GpuDeviceDetails {
    const handle = this.handle(index);
    const api = this.api;
    const { uuid, name, pciBusId } = this.identity(index);
    const memory: Partial<MemoryInfo> = {};
    this.check('nvmlDeviceGetMemoryInfo', api.deviceGetMemoryInfo(handle, memory) as number);
    const major = [0];
    const minor = [0];
    this.check('nvmlDeviceGetCudaComputeCapability', api.deviceGetCudaComputeCapability(handle, major, minor) as number);
    let migEnabled: boolean | null = null;
    if (api.deviceGetMigMode) {
      const current = [0];
      const pending = [0];
      if ((api.deviceGetMigMode(handle, current, pending) as number) === NVML_SUCCESS) migEnabled = current[0] === 1;
    }
    const nvlinks: NvLinkState[] = [];
    for (let link = 0; link < NVML_NVLINK_MAX_LINKS; link++) {
      const active = [0];
      const rc = api.deviceGetNvLinkState ? (api.deviceGetNvLinkState(handle, link, active) as number) : NVML_ERROR_NOT_SUPPORTED;
      nvlinks.push(rc === NVML_SUCCESS ? (active[0] === 1 ? 'ACTIVE' : 'INACTIVE') : 'NOT_SUPPORTED');
    }
    const limit = [0];
    const limitRc = api.deviceGetEnforcedPowerLimit(handle, limit) as number;
    return {
      uuid,
      index,
      name,
      memTotalBytes: toNumber(memory.total ?? 0),
      pciBusId,
      simulated: false,
      computeCapability: `${major[0]}.${minor[0]}`,
      migEnabled,
      nvlinks,
      powerLimitW: limitRc === NVML_SUCCESS ? (limit[0] as number) / 1000 : null,
    };
  }

  private handle(index: number): unknown {
    if (this.closed) throw new RangeError('NVML session is closed');
    if (index < 0 || index >= this.handles.length) throw new RangeError(`no GPU with index ${index} (have ${this.handles.length})`);
    return this.handles[index];
  }

  /** A reading a device may not support (ECC on consumer cards, power on some boards): 0 then. */
  private optionalUint(call: (out: number[]) => number): number {
    const out = [0];
    return call(out) === NVML_SUCCESS ? (out[0] as number) : 0;
  }

  private check(call: string, rc: number): void {
    if (rc !== NVML_SUCCESS) throw new GpuCallError('NVML', call, rc, String(this.api.errorString(rc)));
  }
}
