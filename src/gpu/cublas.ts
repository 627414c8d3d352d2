/**
 * cuBLAS and cuBLASLt through koffi, in the column-major convention both libraries use.
 * `sgemm` is the classic FP32 GEMM; `LtLinear` is one fused Linear layer (GEMM + bias, and
 * ReLU when asked) through a cuBLASLt epilogue, with its descriptors and algorithm chosen once.
 * FP32 only, with CUBLAS_COMPUTE_32F: TF32 is never used.
 */
import { GpuCallError } from './errors.js';
import { libraryCandidates, openLibrary, optionalFunc, toPointer, type NativeFunction, type NativeLibrary, type Pointer } from './native.js';

const STATUS_SUCCESS = 0;
export const OP_N = 0;
export const OP_T = 1;
const CUDA_R_32F = 0;
const CUBLAS_COMPUTE_32F = 68;
const CUBLAS_DEFAULT_MATH = 0;
const DESC_TRANSA = 3;
const DESC_TRANSB = 4;
const DESC_EPILOGUE = 7;
const DESC_BIAS_POINTER = 8;
export const EPILOGUE_BIAS = 4;
export const EPILOGUE_RELU_BIAS = 6;
const PREF_MAX_WORKSPACE_BYTES = 1;
/** sizeof(cublasLtMatmulHeuristicResult_t): algo (64) + workspaceSize (8) + state (4) + wavesCount (4) + reserved (16). */
const HEURISTIC_RESULT_BYTES = 96;

interface CublasApi {
  path: string;
  create: NativeFunction;
  destroy: NativeFunction;
  setMathMode: NativeFunction | undefined;
  sgemm: NativeFunction;
  statusString: NativeFunction | undefined;
}

interface CublasLtApi {
  path: string;
  create: NativeFunction;
  destroy: NativeFunction;
  descCreate: NativeFunction;
  descSetAttribute: NativeFunction;
  descDestroy: NativeFunction;
  layoutCreate: NativeFunction;
  layoutDestroy: NativeFunction;
  prefCreate: NativeFunction;
  prefSetAttribute: NativeFunction;
  prefDestroy: NativeFunction;
  heuristic: NativeFunction;
  matmul: NativeFunction;
  statusString: NativeFunction | undefined;
}

let ltLibrary: { library: NativeLibrary; path: string } | undefined;
let cublasApi: CublasApi | undefined;
let cublasLtApi: CublasLtApi | undefined;

/** cuBLAS links against cuBLASLt: opening Lt first lets cuBLAS find it outside the loader's path. */
function openLt(): { library: NativeLibrary; path: string } {
  ltLibrary ??= openLibrary('cuBLASLt (libcublasLt)', libraryCandidates('libcublasLt', ['13', '12', '11']));
  return ltLibrary;
}

function loadCublas(): CublasApi {
  if (cublasApi) return cublasApi;
  openLt();
  const { library: lib, path } = openLibrary('cuBLAS (libcublas)', libraryCandidates('libcublas', ['13', '12', '11']));
  cublasApi = {
    path,
    create: lib.func('int cublasCreate_v2(_Out_ void **handle)'),
    destroy: lib.func('int cublasDestroy_v2(void *handle)'),
    setMathMode: optionalFunc(lib, 'int cublasSetMathMode(void *handle, int mode)'),
    sgemm: lib.func(
      'int cublasSgemm_v2(void *handle, int transa, int transb, int m, int n, int k, const float *alpha, void *A, int lda, void *B, int ldb, const float *beta, void *C, int ldc)',
    ),
    statusString: optionalFunc(lib, 'const char *cublasGetStatusString(int status)'),
  };
  return cublasApi;
}

function loadCublasLt(): CublasLtApi {
  if (cublasLtApi) return cublasLtApi;
  const { library: lib, path } = openLt();
  cublasLtApi = {
    path,
    create: lib.func('int cublasLtCreate(_Out_ void **handle)'),
    destroy: lib.func('int cublasLtDestroy(void *handle)'),
    descCreate: lib.func('int cublasLtMatmulDescCreate(_Out_ void **desc, int computeType, int scaleType)'),
    descSetAttribute: lib.func('int cublasLtMatmulDescSetAttribute(void *desc, int attr, const void *buf, size_t size)'),
    descDestroy: lib.func('int cublasLtMatmulDescDestroy(void *desc)'),
    layoutCreate: lib.func('int cublasLtMatrixLayoutCreate(_Out_ void **layout, int type, uint64_t rows, uint64_t cols, int64_t ld)'),
    layoutDestroy: lib.func('int cublasLtMatrixLayoutDestroy(void *layout)'),
    prefCreate: lib.func('int cublasLtMatmulPreferenceCreate(_Out_ void **pref)'),
    prefSetAttribute: lib.func('int cublasLtMatmulPreferenceSetAttribute(void *pref, int attr, const void *buf, size_t size)'),
    prefDestroy: lib.func('int cublasLtMatmulPreferenceDestroy(void *pref)'),
    heuristic: lib.func(
      'int cublasLtMatmulAlgoGetHeuristic(void *handle, void *desc, void *a, void *b, void *c, void *d, void *pref, int requested, void *results, _Out_ int *returned)',
    ),
    matmul: lib.func(
      'int cublasLtMatmul(void *handle, void *desc, const void *alpha, void *A, void *Adesc, void *B, void *Bdesc, const void *beta, void *C, void *Cdesc, void *D, void *Ddesc, const void *algo, void *workspace, size_t workspaceSize, void *stream)',
    ),
    statusString: optionalFunc(lib, 'const char *cublasLtGetStatusString(int status)'),
  };
  return cublasLtApi;
}

function fail(library: string, call: string, rc: number, statusString: NativeFunction | undefined): never {
  throw new GpuCallError(library, call, rc, statusString ? String(statusString(rc)) : '');
}

const ONE = new Float32Array([1]);
const ZERO = new Float32Array([0]);

/** A cuBLAS handle on the current device, in default (non-TF32) math mode. */
export class Cublas {
  private constructor(
    private readonly api: CublasApi,
    private readonly handle: Pointer,
  ) {}

  static create(): Cublas {
    const api = loadCublas();
    const out: unknown[] = [null];
    const rc = api.create(out) as number;
    if (rc !== STATUS_SUCCESS) fail('cuBLAS', 'cublasCreate_v2', rc, api.statusString);
    const handle = toPointer(out[0]);
    if (api.setMathMode) {
      const mathRc = api.setMathMode(handle, CUBLAS_DEFAULT_MATH) as number;
      if (mathRc !== STATUS_SUCCESS) fail('cuBLAS', 'cublasSetMathMode', mathRc, api.statusString);
    }
    return new Cublas(api, handle);
  }

  get libraryPath(): string {
    return this.api.path;
  }

  /** C = alpha·op(A)·op(B) + beta·C, column-major, FP32, host scalars. */
  sgemm(
    transa: number,
    transb: number,
    m: number,
    n: number,
    k: number,
    a: Pointer,
    lda: number,
    b: Pointer,
    ldb: number,
    c: Pointer,
    ldc: number,
    beta: 0 | 1 = 0,
  ): void {
    const rc = this.api.sgemm(this.handle, transa, transb, m, n, k, ONE, a, lda, b, ldb, beta === 0 ? ZERO : ONE, c, ldc) as number;
    if (rc !== STATUS_SUCCESS) fail('cuBLAS', 'cublasSgemm_v2', rc, this.api.statusString);
  }

  destroy(): void {
    this.api.destroy(this.handle);
  }
}

/** A cuBLASLt handle and the workspace its algorithms may use. */
export class CublasLt {
  private constructor(
    readonly api: CublasLtApi,
    readonly handle: Pointer,
  ) {}

  static create(): CublasLt {
    const api = loadCublasLt();
    const out: unknown[] = [null];
    const rc = api.create(out) as number;
    if (rc !== STATUS_SUCCESS) fail('cuBLASLt', 'cublasLtCreate', rc, api.statusString);
    return new CublasLt(api, toPointer(out[0]));
  }

  get libraryPath(): string {
    return this.api.path;
  }

  check(call: string, rc: number): void {
    if (rc !== STATUS_SUCCESS) fail('cuBLASLt', call, rc, this.api.statusString);
  }

  destroy(): void {
    this.api.destroy(this.handle);
  }
}

/**
 * One Linear layer for a fixed batch size: Yᵀ[out, N] = W[out, in]·Xᵀ[in, N] + b, then ReLU
 * when `relu`. In column-major terms the row-major weight [out, in] is a column-major [in, out]
 * matrix with ld = in, used transposed; the row-major activations [N, in] are a column-major
 * [in, N] matrix with ld = in; the output [N, out] row-major is column-major [out, N], ld = out,
 * and the bias (one value per output feature) is a vector of D's row count, as the epilogue wants.
 */
export class LtLinear {
  private readonly desc: Pointer;
  private readonly layouts: Pointer[];
  private readonly algo: Buffer;
  readonly workspaceBytes: number;

  constructor(
    private readonly lt: CublasLt,
    readonly inFeatures: number,
    readonly outFeatures: number,
    readonly batch: number,
    bias: Pointer,
    relu: boolean,
    maxWorkspaceBytes: number,
  ) {
    const api = lt.api;
    const out: unknown[] = [null];
    lt.check('cublasLtMatmulDescCreate', api.descCreate(out, CUBLAS_COMPUTE_32F, CUDA_R_32F) as number);
    this.desc = toPointer(out[0]);
    const i32 = (v: number): Int32Array => new Int32Array([v]);
    lt.check('cublasLtMatmulDescSetAttribute(TRANSA)', api.descSetAttribute(this.desc, DESC_TRANSA, i32(OP_T), 4) as number);
    lt.check('cublasLtMatmulDescSetAttribute(TRANSB)', api.descSetAttribute(this.desc, DESC_TRANSB, i32(OP_N), 4) as number);
    const epilogue = new Uint32Array([relu ? EPILOGUE_RELU_BIAS : EPILOGUE_BIAS]);
    lt.check('cublasLtMatmulDescSetAttribute(EPILOGUE)', api.descSetAttribute(this.desc, DESC_EPILOGUE, epilogue, 4) as number);
    const biasPointer = new BigUint64Array([bias]);
    lt.check('cublasLtMatmulDescSetAttribute(BIAS_POINTER)', api.descSetAttribute(this.desc, DESC_BIAS_POINTER, biasPointer, 8) as number);
    const layout = (rows: number, cols: number, ld: number): Pointer => {
      const l: unknown[] = [null];
      lt.check('cublasLtMatrixLayoutCreate', api.layoutCreate(l, CUDA_R_32F, rows, cols, ld) as number);
      return toPointer(l[0]);
    };
    // A = W as stored: column-major [in, out]; B = X: [in, N]; C = D = Y: [out, N].
    this.layouts = [layout(inFeatures, outFeatures, inFeatures), layout(inFeatures, batch, inFeatures), layout(outFeatures, batch, outFeatures)];
    const pref: unknown[] = [null];
    lt.check('cublasLtMatmulPreferenceCreate', api.prefCreate(pref) as number);
    const preference = toPointer(pref[0]);
    try {
      const ws = new BigUint64Array([BigInt(maxWorkspaceBytes)]);
      lt.check('cublasLtMatmulPreferenceSetAttribute', api.prefSetAttribute(preference, PREF_MAX_WORKSPACE_BYTES, ws, 8) as number);
      const results = Buffer.alloc(HEURISTIC_RESULT_BYTES);
      const returned = [0];
      const [a, b, cd] = this.layouts as [Pointer, Pointer, Pointer];
      lt.check('cublasLtMatmulAlgoGetHeuristic', api.heuristic(lt.handle, this.desc, a, b, cd, cd, preference, 1, results, returned) as number);
      if ((returned[0] as number) < 1 || results.readInt32LE(72) !== STATUS_SUCCESS) {
        throw new GpuCallError('cuBLASLt', 'cublasLtMatmulAlgoGetHeuristic', results.readInt32LE(72), `no algorithm for ${inFeatures}→${outFeatures} at batch ${batch}`);
      }
      this.algo = results;
      this.workspaceBytes = Number(results.readBigUInt64LE(64));
    } finally {
      api.prefDestroy(preference);
    }
  }

  /** Enqueues the layer on the default stream. */
  run(weight: Pointer, input: Pointer, output: Pointer, workspace: Pointer, workspaceBytes: number): void {
    const [a, b, cd] = this.layouts as [Pointer, Pointer, Pointer];
    const rc = this.lt.api.matmul(this.lt.handle, this.desc, ONE, weight, a, input, b, ZERO, output, cd, output, cd, this.algo, workspace, workspaceBytes, 0n) as number;
    this.lt.check('cublasLtMatmul', rc);
  }

  destroy(): void {
    for (const l of this.layouts) this.lt.api.layoutDestroy(l);
    this.lt.api.descDestroy(this.desc);
  }
}
