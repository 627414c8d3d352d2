/**
 * NVRTC (run-time compilation of CUDA C++) through koffi: source in, a CUBIN for the exact
 * device out, so no PTX has to be JIT-compiled by a driver that may be older than the toolkit.
 */
import { GpuCallError } from './errors.js';
import { libraryCandidates, openLibrary, optionalFunc, toNumber, toPointer, type NativeFunction } from './native.js';

interface NvrtcApi {
  path: string;
  version: NativeFunction;
  errorString: NativeFunction;
  createProgram: NativeFunction;
  compileProgram: NativeFunction;
  logSize: NativeFunction;
  log: NativeFunction;
  cubinSize: NativeFunction | undefined;
  cubin: NativeFunction | undefined;
  ptxSize: NativeFunction;
  ptx: NativeFunction;
  destroyProgram: NativeFunction;
}

let cached: NvrtcApi | undefined;

function loadNvrtc(): NvrtcApi {
  if (cached) return cached;
  const { library: lib, path } = openLibrary('NVRTC (libnvrtc)', libraryCandidates('libnvrtc', ['13', '12', '11.2']));
  cached = {
    path,
    version: lib.func('int nvrtcVersion(_Out_ int *major, _Out_ int *minor)'),
    errorString: lib.func('const char *nvrtcGetErrorString(int result)'),
    createProgram: lib.func(
      'int nvrtcCreateProgram(_Out_ void **prog, const char *src, const char *name, int numHeaders, void *headers, void *includeNames)',
    ),
    compileProgram: lib.func('int nvrtcCompileProgram(void *prog, int numOptions, const char **options)'),
    logSize: lib.func('int nvrtcGetProgramLogSize(void *prog, _Out_ size_t *size)'),
    log: lib.func('int nvrtcGetProgramLog(void *prog, void *log)'),
    cubinSize: optionalFunc(lib, 'int nvrtcGetCUBINSize(void *prog, _Out_ size_t *size)'),
    cubin: optionalFunc(lib, 'int nvrtcGetCUBIN(void *prog, void *cubin)'),
    ptxSize: lib.func('int nvrtcGetPTXSize(void *prog, _Out_ size_t *size)'),
    ptx: lib.func('int nvrtcGetPTX(void *prog, void *ptx)'),
    destroyProgram: lib.func('int nvrtcDestroyProgram(_Inout_ void **prog)'),
  };
  return cached;
}

export interface CompiledKernel {
  /** A CUBIN, or NUL-terminated PTX text when the NVRTC in use cannot emit a CUBIN. */
  image: Buffer;
  format: 'cubin' | 'ptx';
  nvrtcVersion: string;
  log: string;
}

/** Compiles `source` for compute capability `major.minor`; GpuCallError with the compiler log on failure. */
export function compileKernel(source: string, name: string, capability: { major: number; minor: number }): CompiledKernel {
  const api = loadNvrtc();
  const major = [0];
  const minor = [0];
  api.version(major, minor);
  const check = (call: string, rc: number, log = ''): void => {
    if (rc !== 0) throw new GpuCallError('NVRTC', call, rc, `${String(api.errorString(rc))}${log ? `: ${log}` : ''}`);
  };
  const out: unknown[] = [null];
  check('nvrtcCreateProgram', api.createProgram(out, source, name, 0, null, null) as number);
  const program = [toPointer(out[0])];
  try {
    const sm = `${capability.major}${capability.minor}`;
    const wantCubin = api.cubin !== undefined && api.cubinSize !== undefined;
    const options = [`--gpu-architecture=${wantCubin ? 'sm' : 'compute'}_${sm}`, '--std=c++14'];
    const rc = api.compileProgram(program[0], options.length, options) as number;
    const log = readLog(api, program[0] as bigint);
    check('nvrtcCompileProgram', rc, log);
    const size = [0];
    if (wantCubin) {
      check('nvrtcGetCUBINSize', (api.cubinSize as NativeFunction)(program[0], size) as number);
      const image = Buffer.alloc(toNumber(size[0]));
      check('nvrtcGetCUBIN', (api.cubin as NativeFunction)(program[0], image) as number);
      return { image, format: 'cubin', nvrtcVersion: `${major[0]}.${minor[0]}`, log };
    }
    check('nvrtcGetPTXSize', api.ptxSize(program[0], size) as number);
    const image = Buffer.alloc(toNumber(size[0]));
    check('nvrtcGetPTX', api.ptx(program[0], image) as number);
    return { image, format: 'ptx', nvrtcVersion: `${major[0]}.${minor[0]}`, log };
  } finally {
    api.destroyProgram(program);
  }
}

function readLog(api: NvrtcApi, program: bigint): string {
  const size = [0];
  if ((api.logSize(program, size) as number) !== 0) return '';
  const bytes = toNumber(size[0]);
  if (bytes <= 1) return '';
  const log = Buffer.alloc(bytes);
  api.log(program, log);
  return log.toString('utf8', 0, bytes - 1).trim();
}
