/**
 * Raw NVML signatures (libnvidia-ml), declared once through koffi. Every function returns an
 * nvmlReturn_t; the typed wrapper in nvml-devices.ts turns statuses into values and errors.
 */
import { koffi, libraryCandidates, openLibrary, optionalFunc, type NativeFunction } from './native.js';

/** nvmlReturn_t values gpuflow reacts to. */
export const NVML_SUCCESS = 0;
export const NVML_ERROR_NOT_SUPPORTED = 3;
export const NVML_ERROR_DRIVER_NOT_LOADED = 9;
export const NVML_ERROR_LIBRARY_NOT_FOUND = 12;
export const NVML_ERROR_GPU_IS_LOST = 15;

export const NVML_TEMPERATURE_GPU = 0;
export const NVML_CLOCK_SM = 1;
export const NVML_CLOCK_MEM = 2;
export const NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1;
export const NVML_VOLATILE_ECC = 0;
export const NVML_NVLINK_MAX_LINKS = 18;
export const NVML_DEVICE_UUID_BUFFER_SIZE = 96;
export const NVML_DEVICE_NAME_BUFFER_SIZE = 96;
export const NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE = 80;
/** nvmlMemory_v2: sizeof(nvmlMemory_v2_t) = 40, version 2 in the top byte. */
export const NVML_MEMORY_V2_VERSION = 40 | (2 << 24);

export interface NvmlApi {
  path: string;
  init: NativeFunction;
  shutdown: NativeFunction;
  errorString: NativeFunction;
  systemGetDriverVersion: NativeFunction;
  deviceGetCount: NativeFunction;
  deviceGetHandleByIndex: NativeFunction;
  deviceGetName: NativeFunction;
  deviceGetUUID: NativeFunction;
  deviceGetMemoryInfo: NativeFunction;
  deviceGetUtilizationRates: NativeFunction;
  deviceGetTemperature: NativeFunction;
  deviceGetPowerUsage: NativeFunction;
  deviceGetEnforcedPowerLimit: NativeFunction;
  deviceGetPciInfo: NativeFunction;
  deviceGetCudaComputeCapability: NativeFunction;
  deviceGetClockInfo: NativeFunction;
  deviceGetTotalEccErrors: NativeFunction;
  deviceGetMemoryInfoV2: NativeFunction | undefined;
  deviceGetMigMode: NativeFunction | undefined;
  deviceGetNvLinkState: NativeFunction | undefined;
  deviceGetTopologyCommonAncestor: NativeFunction | undefined;
}

let cached: NvmlApi | undefined;

/** Opens libnvidia-ml and declares the functions gpuflow uses; NoGpuError when absent. */
export function loadNvml(): NvmlApi {
  if (cached) return cached;
  const k = koffi();
  const { library: lib, path } = openLibrary('NVML (libnvidia-ml)', libraryCandidates('libnvidia-ml', ['1']));
  k.pointer('nvmlDevice_t', k.opaque('nvmlDevice_st'));
  k.struct('nvmlMemory_t', { total: 'unsigned long long', free: 'unsigned long long', used: 'unsigned long long' });
  k.struct('nvmlMemory_v2_t', {
    version: 'unsigned int',
    total: 'unsigned long long',
    reserved: 'unsigned long long',
    free: 'unsigned long long',
    used: 'unsigned long long',
  });
  k.struct('nvmlUtilization_t', { gpu: 'unsigned int', memory: 'unsigned int' });
  k.struct('nvmlPciInfo_t', {
    busIdLegacy: k.array('char', 16, 'String'),
    domain: 'unsigned int',
    bus: 'unsigned int',
    device: 'unsigned int',
    pciDeviceId: 'unsigned int',
    pciSubSystemId: 'unsigned int',
    busId: k.array('char', 32, 'String'),
  });
  cached = {
    path,
    init: lib.func('int nvmlInit_v2()'),
    shutdown: lib.func('int nvmlShutdown()'),
    errorString: lib.func('const char *nvmlErrorString(int result)'),
    systemGetDriverVersion: lib.func('int nvmlSystemGetDriverVersion(char *version, unsigned int length)'),
    deviceGetCount: lib.func('int nvmlDeviceGetCount_v2(_Out_ unsigned int *count)'),
    deviceGetHandleByIndex: lib.func('int nvmlDeviceGetHandleByIndex_v2(unsigned int index, _Out_ nvmlDevice_t *device)'),
    deviceGetName: lib.func('int nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)'),
    deviceGetUUID: lib.func('int nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)'),
    deviceGetMemoryInfo: lib.func('int nvmlDeviceGetMemoryInfo(nvmlDevice_t device, _Out_ nvmlMemory_t *memory)'),
    deviceGetUtilizationRates: lib.func('int nvmlDeviceGetUtilizationRates(nvmlDevice_t device, _Out_ nvmlUtilization_t *utilization)'),
    deviceGetTemperature: lib.func('int nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, _Out_ unsigned int *temp)'),
    deviceGetPowerUsage: lib.func('int nvmlDeviceGetPowerUsage(nvmlDevice_t device, _Out_ unsigned int *power)'),
    deviceGetEnforcedPowerLimit: lib.func('int nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, _Out_ unsigned int *limit)'),
    deviceGetPciInfo: lib.func('int nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, _Out_ nvmlPciInfo_t *pci)'),
    deviceGetCudaComputeCapability: lib.func('int nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, _Out_ int *major, _Out_ int *minor)'),
    deviceGetClockInfo: lib.func('int nvmlDeviceGetClockInfo(nvmlDevice_t device, int type, _Out_ unsigned int *clock)'),
    deviceGetTotalEccErrors: lib.func(
      'int nvmlDeviceGetTotalEccErrors(nvmlDevice_t device, int errorType, int counterType, _Out_ unsigned long long *count)',
    ),
    deviceGetMemoryInfoV2: optionalFunc(lib, 'int nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, _Inout_ nvmlMemory_v2_t *memory)'),
    deviceGetMigMode: optionalFunc(lib, 'int nvmlDeviceGetMigMode(nvmlDevice_t device, _Out_ unsigned int *current, _Out_ unsigned int *pending)'),
    deviceGetNvLinkState: optionalFunc(lib, 'int nvmlDeviceGetNvLinkState(nvmlDevice_t device, unsigned int link, _Out_ int *isActive)'),
    deviceGetTopologyCommonAncestor: optionalFunc(
      lib,
      'int nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t device1, nvmlDevice_t device2, _Out_ int *level)',
    ),
  };
  return cached;
}
