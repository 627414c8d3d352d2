/**
 * The few CUDA driver API calls (libcuda) needed to run a kernel compiled by NVRTC: load a
 * module into the context the runtime made current, find a function, launch it. Kernel
 * arguments live in memory koffi allocated once, so their addresses stay put between launches.
 */
import { GpuCallError } from './errors.js';
import { koffi, libraryCandidates, openLibrary, optionalFunc, toPointer, type NativeFunction, type Pointer } from './native.js';

interface DriverApi {
  path: string;
  init: NativeFunction;
  moduleLoadData: NativeFunction;
  moduleGetFunction: NativeFunction;
  moduleUnload: NativeFunction;
  launchKernel: NativeFunction;
  errorString: NativeFunction | undefined;
}

let cached: DriverApi | undefined;

function loadDriver(): DriverApi {
  if (cached) return cached;
  const { library: lib, path } = openLibrary('CUDA driver (libcuda)', libraryCandidates('libcuda', ['1']));
  cached = {
    path,
    init: lib.func('int cuInit(unsigned int flags)'),
    moduleLoadData: lib.func('int cuModuleLoadData(_Out_ void **module, const void *image)'),
    moduleGetFunction: lib.func('int cuModuleGetFunction(_Out_ void **fn, void *module, const char *name)'),
    moduleUnload: lib.func('int cuModuleUnload(void *module)'),
    launchKernel: lib.func(
      'int cuLaunchKernel(void *fn, unsigned int gridX, unsigned int gridY, unsigned int gridZ, unsigned int blockX, unsigned int blockY, unsigned int blockZ, unsigned int sharedBytes, void *stream, void *params, void *extra)',
    ),
    errorString: optionalFunc(lib, 'int cuGetErrorString(int error, _Out_ const char **text)'),
  };
  return cached;
}

/** The kinds of kernel argument gpuflow passes, each stored in an 8-byte slot. */
export type KernelArg = { pointer: Pointer } | { u32: number } | { i32: number } | { u64: number };

export class CudaModule {
  private constructor(
    private readonly api: DriverApi,
    private readonly module: Pointer,
  ) {}

  /** Loads a CUBIN or PTX image into the current context (the runtime's primary context). */
  static load(image: Buffer): CudaModule {
    const api = loadDriver();
    check(api, 'cuInit', api.init(0) as number);
    const out: unknown[] = [null];
    check(api, 'cuModuleLoadData', api.moduleLoadData(out, image) as number);
    return new CudaModule(api, toPointer(out[0]));
  }

  kernel(name: string, argCount: number): CudaKernel {
    const out: unknown[] = [null];
    check(this.api, 'cuModuleGetFunction', this.api.moduleGetFunction(out, this.module, name) as number);
    return new CudaKernel(this.api, toPointer(out[0]), name, argCount);
  }

  unload(): void {
    this.api.moduleUnload(this.module);
  }
}

export class CudaKernel {
  private readonly slots: Pointer;
  private readonly params: Pointer;

  constructor(
    private readonly api: DriverApi,
    private readonly fn: Pointer,
    readonly name: string,
    private readonly argCount: number,
  ) {
    const k = koffi();
    this.slots = toPointer(k.alloc('uint64_t', argCount));
    this.params = toPointer(k.alloc('uint64_t', argCount));
    for (let i = 0; i < argCount; i++) k.encode(this.params, i * 8, 'uint64_t', this.slots + BigInt(i * 8));
  }

  /** Enqueues the kernel on the default stream with a 1-D grid. */
  launch(grid: number, block: number, args: readonly KernelArg[]): void {
    if (args.length !== this.argCount) throw new RangeError(`${this.name} takes ${this.argCount} arguments, got ${args.length}`);
    const k = koffi();
    args.forEach((arg, i) => {
      const at = i * 8;
      if ('pointer' in arg) k.encode(this.slots, at, 'uint64_t', arg.pointer);
      else if ('u32' in arg) k.encode(this.slots, at, 'uint32_t', arg.u32);
      else if ('i32' in arg) k.encode(this.slots, at, 'int32_t', arg.i32);
      else k.encode(this.slots, at, 'uint64_t', BigInt(arg.u64));
    });
    check(this.api, `cuLaunchKernel(${this.name})`, this.api.launchKernel(this.fn, grid, 1, 1, block, 1, 1, 0, 0n, this.params, 0n) as number);
  }

  release(): void {
    const k = koffi();
    k.free(this.slots);
    k.free(this.params);
  }
}

function check(api: DriverApi, call: string, rc: number): void {
  if (rc === 0) return;
  let detail = '';
  if (api.errorString) {
    const text: unknown[] = [null];
    if ((api.errorString(rc, text) as number) === 0 && typeof text[0] === 'string') detail = text[0];
  }
  throw new GpuCallError('CUDA driver', call, rc, detail);
}
