/**
 * The fallback epilogue: a bias-add (+ ReLU) kernel compiled at run time with NVRTC, run after
 * a plain cuBLAS SGEMM when cuBLASLt's fused epilogue is not available. Row-major [N, out]
 * output: element i belongs to feature i mod out.
 */
import { CudaModule, type CudaKernel } from './cuda-driver.js';
import type { Pointer } from './native.js';
import { compileKernel, type CompiledKernel } from './nvrtc.js';

const SOURCE = `
extern "C" __global__ void gpuflow_bias_act(float *y, const float *bias, unsigned int features, unsigned long long total, int relu) {
  unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < total) {
    float v = y[i] + bias[i % features];
    y[i] = (relu && v < 0.0f) ? 0.0f : v;
  }
}
`;

const BLOCK = 256;

export class BiasActivation {
  private constructor(
    private readonly module: CudaModule,
    private readonly kernel: CudaKernel,
    readonly compiled: CompiledKernel,
  ) {}

  static compile(capability: { major: number; minor: number }): BiasActivation {
    const compiled = compileKernel(SOURCE, 'gpuflow_bias_act.cu', capability);
    const module = CudaModule.load(compiled.image);
    return new BiasActivation(module, module.kernel('gpuflow_bias_act', 5), compiled);
  }

  /** y[N, features] += bias, then max(·, 0) when `relu`; enqueued on the default stream. */
  run(y: Pointer, bias: Pointer, features: number, rows: number, relu: boolean): void {
    const total = features * rows;
    this.kernel.launch(Math.ceil(total / BLOCK), BLOCK, [{ pointer: y }, { pointer: bias }, { u32: features }, { u64: total }, { i32: relu ? 1 : 0 }]);
  }

  release(): void {
    this.kernel.release();
    this.module.unload();
  }
}
