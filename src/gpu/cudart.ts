/**
 * The CUDA runtime (libcudart) through koffi: device selection, memory, copies, events.
 * Device pointers are bigint addresses. A runtime without a usable driver (status 35,
 * "insufficient driver", or 100, "no device") is NoGpuError: the caller falls back to simulation.
 */
import { NoGpuError } from '../domain/errors.js';
import { GpuCallError } from './errors.js';
import { libraryCandidates, openLibrary, optionalFunc, toNumber, toPointer, type NativeFunction, type Pointer } from './native.js';

const CUDA_SUCCESS = 0;
const MEMCPY_HOST_TO_DEVICE = 1;
const MEMCPY_DEVICE_TO_HOST = 2;
const MEMCPY_DEVICE_TO_DEVICE = 3;
const ATTR_COMPUTE_CAPABILITY_MAJOR = 75;
const ATTR_COMPUTE_CAPABILITY_MINOR = 76;

interface CudartApi {
  path: string;
  getDeviceCount: NativeFunction;
  getErrorString: NativeFunction;
  runtimeGetVersion: NativeFunction;
  driverGetVersion: NativeFunction;
  setDevice: NativeFunction;
  memGetInfo: NativeFunction;
  malloc: NativeFunction;
  free: NativeFunction;
  memcpy: NativeFunction;
  memset: NativeFunction;
  deviceSynchronize: NativeFunction;
  deviceGetAttribute: NativeFunction;
  eventCreate: NativeFunction;
  eventRecord: NativeFunction;
  eventSynchronize: NativeFunction;
  eventElapsedTime: NativeFunction | undefined;
  eventDestroy: NativeFunction;
}

let cached: CudartApi | undefined;

function loadCudart(): CudartApi {
  if (cached) return cached;
  const { library: lib, path } = openLibrary('CUDA runtime (libcudart)', libraryCandidates('libcudart', ['13', '12', '11.0']));
  cached = {
    path,
    getDeviceCount: lib.func('int cudaGetDeviceCount(_Out_ int *count)'),
    getErrorString: lib.func('const char *cudaGetErrorString(int error)'),
    runtimeGetVersion: lib.func('int cudaRuntimeGetVersion(_Out_ int *version)'),
    driverGetVersion: lib.func('int cudaDriverGetVersion(_Out_ int *version)'),
    setDevice: lib.func('int cudaSetDevice(int device)'),
    memGetInfo: lib.func('int cudaMemGetInfo(_Out_ size_t *free, _Out_ size_t *total)'),
    malloc: lib.func('int cudaMalloc(_Out_ void **devPtr, size_t size)'),
    free: lib.func('int cudaFree(void *devPtr)'),
    memcpy: lib.func('int cudaMemcpy(void *dst, const void *src, size_t count, int kind)'),
    memset: lib.func('int cudaMemset(void *devPtr, int value, size_t count)'),
    deviceSynchronize: lib.func('int cudaDeviceSynchronize()'),
    deviceGetAttribute: lib.func('int cudaDeviceGetAttribute(_Out_ int *value, int attr, int device)'),
    eventCreate: lib.func('int cudaEventCreate(_Out_ void **event)'),
    eventRecord: lib.func('int cudaEventRecord(void *event, void *stream)'),
    eventSynchronize: lib.func('int cudaEventSynchronize(void *event)'),
    // CUDA 12.8 added a _v2; CUDA 13 keeps the plain name with the same signature.
    eventElapsedTime:
      optionalFunc(lib, 'int cudaEventElapsedTime(_Out_ float *ms, void *start, void *end)') ??
      optionalFunc(lib, 'int cudaEventElapsedTime_v2(_Out_ float *ms, void *start, void *end)'),
    eventDestroy: lib.func('int cudaEventDestroy(void *event)'),
  };
  return cached;
}

export interface CudaEventPair {
  start: Pointer;
  end: Pointer;
}

/** One process's view of the CUDA runtime, bound to one device. */
export class CudaRuntime {
  private constructor(
    private readonly api: CudartApi,
    readonly device: number,
    readonly deviceCount: number,
  ) {}

  /** Opens libcudart and selects `device`; NoGpuError when no driver or device answers. */
  static open(device = 0): CudaRuntime {
    const api = loadCudart();
    const count = [0];
    const rc = api.getDeviceCount(count) as number;
    if (rc !== CUDA_SUCCESS) {
      throw new NoGpuError(`CUDA runtime found (${api.path}) but cudaGetDeviceCount failed: ${String(api.getErrorString(rc))} (status ${rc})`);
    }
    const deviceCount = count[0] as number;
    if (deviceCount === 0) throw new NoGpuError('CUDA runtime reports no device');
    if (device < 0 || device >= deviceCount) throw new RangeError(`no CUDA device ${device} (have ${deviceCount})`);
    const runtime = new CudaRuntime(api, device, deviceCount);
    runtime.check('cudaSetDevice', api.setDevice(device) as number);
    return runtime;
  }

  get libraryPath(): string {
    return this.api.path;
  }

  runtimeVersion(): number {
    const v = [0];
    this.check('cudaRuntimeGetVersion', this.api.runtimeGetVersion(v) as number);
    return v[0] as number;
  }

  driverVersion(): number {
    const v = [0];
    this.check('cudaDriverGetVersion', this.api.driverGetVersion(v) as number);
    return v[0] as number;
  }

  computeCapability(): { major: number; minor: number } {
    const major = [0];
    const minor = [0];
    this.check('cudaDeviceGetAttribute', this.api.deviceGetAttribute(major, ATTR_COMPUTE_CAPABILITY_MAJOR, this.device) as number);
    this.check('cudaDeviceGetAttribute', this.api.deviceGetAttribute(minor, ATTR_COMPUTE_CAPABILITY_MINOR, this.device) as number);
    return { major: major[0] as number, minor: minor[0] as number };
  }

  memGetInfo(): { freeBytes: number; totalBytes: number } {
    const free = [0];
    const total = [0];
    this.check('cudaMemGetInfo', this.api.memGetInfo(free, total) as number);
    return { freeBytes: toNumber(free[0]), totalBytes: toNumber(total[0]) };
  }

  malloc(bytes: number): Pointer {
    const out: unknown[] = [null];
    this.check('cudaMalloc', this.api.malloc(out, bytes) as number, bytes);
    return toPointer(out[0]);
  }

  free(pointer: Pointer): void {
    this.check('cudaFree', this.api.free(pointer) as number);
  }

  /** Copies host bytes to the device (pageable; cudaMemcpy returns when the copy is done). */
  toDevice(dst: Pointer, src: ArrayBufferView, bytes = src.byteLength): void {
    this.check('cudaMemcpy(H2D)', this.api.memcpy(dst, src, bytes, MEMCPY_HOST_TO_DEVICE) as number);
  }

  toHost(dst: ArrayBufferView, src: Pointer, bytes = dst.byteLength): void {
    this.check('cudaMemcpy(D2H)', this.api.memcpy(dst, src, bytes, MEMCPY_DEVICE_TO_HOST) as number);
  }

  deviceToDevice(dst: Pointer, src: Pointer, bytes: number): void {
    this.check('cudaMemcpy(D2D)', this.api.memcpy(dst, src, bytes, MEMCPY_DEVICE_TO_DEVICE) as number);
  }

  memset(pointer: Pointer, value: number, bytes: number): void {
    this.check('cudaMemset', this.api.memset(pointer, value, bytes) as number);
  }

  synchronize(): void {
    this.check('cudaDeviceSynchronize', this.api.deviceSynchronize() as number);
  }

  get hasEventTiming(): boolean {
    return this.api.eventElapsedTime !== undefined;
  }

  createEvents(): CudaEventPair {
    const start: unknown[] = [null];
    const end: unknown[] = [null];
    this.check('cudaEventCreate', this.api.eventCreate(start) as number);
    this.check('cudaEventCreate', this.api.eventCreate(end) as number);
    return { start: toPointer(start[0]), end: toPointer(end[0]) };
  }

  /** Records on the default stream, where cuBLAS and the kernels run. */
  record(event: Pointer): void {
    this.check('cudaEventRecord', this.api.eventRecord(event, 0n) as number);
  }

  /** Milliseconds between two recorded events, after waiting for the second. */
  elapsedMs(events: CudaEventPair): number {
    this.check('cudaEventSynchronize', this.api.eventSynchronize(events.end) as number);
    if (!this.api.eventElapsedTime) throw new GpuCallError('CUDA', 'cudaEventElapsedTime', -1, 'not exported by this runtime');
    const ms = [0];
    this.check('cudaEventElapsedTime', this.api.eventElapsedTime(ms, events.start, events.end) as number);
    return ms[0] as number;
  }

  destroyEvents(events: CudaEventPair): void {
    this.api.eventDestroy(events.start);
    this.api.eventDestroy(events.end);
  }

  private check(call: string, rc: number, bytes?: number): void {
    if (rc === CUDA_SUCCESS) return;
    const detail = `${String(this.api.getErrorString(rc))}${bytes === undefined ? '' : `, ${bytes} bytes`}`;
    throw new GpuCallError('CUDA', call, rc, detail);
  }
}
