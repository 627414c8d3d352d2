/**
 * An MLP resident on one GPU. Weights are uploaded once; a forward pass is one host→device
 * copy, one fused cuBLASLt matmul per layer (bias and ReLU in the epilogue) or, as a fallback,
 * a cuBLAS SGEMM plus an NVRTC-compiled bias/ReLU kernel, then one device→host copy.
 * CUDA events time the compute; the host clock times the copies.
 */
import { performance } from 'node:perf_hooks';
import { describeError } from '../domain/errors.js';
import { BiasActivation } from './bias-activation.js';
import { Cublas, CublasLt, LtLinear, OP_N, OP_T } from './cublas.js';
import { CudaRuntime } from './cudart.js';
import type { MlpWeights } from './mlp.js';
import { mlpInputFeatures, mlpOutputFeatures, mlpParameterBytes } from './mlp.js';
import type { Pointer } from './native.js';

export type EpiloguePath = 'cublaslt' | 'nvrtc';

export interface CudaMlpOptions {
  device?: number;
  /** 'auto' tries cuBLASLt and falls back to NVRTC, keeping the reason. */
  epilogue?: EpiloguePath | 'auto';
  maxBatch: number;
  workspaceBytes?: number;
}

export interface ForwardResult {
  output: Float32Array;
  transferUs: number;
  computeUs: number;
}

interface DeviceLayer {
  inFeatures: number;
  outFeatures: number;
  weight: Pointer;
  bias: Pointer;
}

const DEFAULT_WORKSPACE = 32 * 2 ** 20;

export class CudaMlp {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly maxBatch: number;
  epilogue: EpiloguePath = 'cublaslt';
  /** Why 'auto' did not end up on cuBLASLt, '' when it did. */
  fallbackReason = '';

  private readonly layers: DeviceLayer[] = [];
  private readonly buffers: [Pointer, Pointer];
  private readonly workspace: Pointer;
  private readonly workspaceBytes: number;
  private readonly maxWidth: number;
  private lt: CublasLt | undefined;
  private cublas: Cublas | undefined;
  private kernel: BiasActivation | undefined;
  private readonly plans = new Map<number, LtLinear[]>();
  private readonly allocations: Pointer[] = [];
  private released = false;

  constructor(
    readonly cuda: CudaRuntime,
    mlp: MlpWeights,
    options: CudaMlpOptions,
  ) {
    this.inFeatures = mlpInputFeatures(mlp);
    this.outFeatures = mlpOutputFeatures(mlp);
    this.maxBatch = options.maxBatch;
    this.maxWidth = Math.max(this.inFeatures, ...mlp.layers.map((l) => l.outFeatures));
    this.workspaceBytes = options.workspaceBytes ?? DEFAULT_WORKSPACE;
    try {
      for (const layer of mlp.layers) {
        const weight = this.alloc(layer.weight.byteLength);
        cuda.toDevice(weight, layer.weight);
        const bias = this.alloc(layer.bias.byteLength);
        cuda.toDevice(bias, layer.bias);
        this.layers.push({ inFeatures: layer.inFeatures, outFeatures: layer.outFeatures, weight, bias });
      }
      const activationBytes = this.maxBatch * this.maxWidth * 4;
      this.buffers = [this.alloc(activationBytes), this.alloc(activationBytes)];
      this.workspace = this.alloc(this.workspaceBytes);
      this.chooseEpilogue(options.epilogue ?? 'auto');
    } catch (error) {
      this.release();
      throw error;
    }
  }

  /** Device bytes this model holds: parameters, two activation buffers, the GEMM workspace. */
  static memoryEstimateBytes(mlp: MlpWeights, maxBatch: number, workspaceBytes = DEFAULT_WORKSPACE): number {
    const maxWidth = Math.max(mlpInputFeatures(mlp), ...mlp.layers.map((l) => l.outFeatures));
    return mlpParameterBytes(mlp) + 2 * maxBatch * maxWidth * 4 + workspaceBytes;
  }

  /** x: [batch, in] row-major on the host; returns [batch, out] row-major. */
  forward(input: Float32Array, batch: number): ForwardResult {
    if (this.released) throw new RangeError('model released');
    if (batch < 1 || batch > this.maxBatch) throw new RangeError(`batch ${batch} outside 1..${this.maxBatch}`);
    if (input.length !== batch * this.inFeatures) throw new RangeError(`expected ${batch}×${this.inFeatures} inputs, got ${input.length}`);
    const t0 = performance.now();
    this.cuda.toDevice(this.buffers[0], input);
    const t1 = performance.now();
    let last: Pointer;
    let computeMs: number;
    if (this.cuda.hasEventTiming) {
      const events = this.cuda.createEvents();
      try {
        this.cuda.record(events.start);
        last = this.runLayers(batch);
        this.cuda.record(events.end);
        computeMs = this.cuda.elapsedMs(events);
      } finally {
        this.cuda.destroyEvents(events);
      }
    } else {
      // A runtime without cudaEventElapsedTime: the host clock around a synchronize instead.
      last = this.runLayers(batch);
      this.cuda.synchronize();
      computeMs = performance.now() - t1;
    }
    const output = new Float32Array(batch * this.outFeatures);
    const t2 = performance.now();
    this.cuda.toHost(output, last);
    const t3 = performance.now();
    return { output, transferUs: (t1 - t0 + (t3 - t2)) * 1000, computeUs: computeMs * 1000 };
  }

  /** The layers alone on an input already on the device (buffers[0]); returns the output's buffer. */
  runLayers(batch: number): Pointer {
    let src = 0;
    const plans = this.epilogue === 'cublaslt' ? this.plan(batch) : undefined;
    this.layers.forEach((layer, i) => {
      const relu = i < this.layers.length - 1;
      const x = this.buffers[src as 0 | 1];
      const y = this.buffers[(1 - src) as 0 | 1];
      if (plans) {
        const plan = plans[i] as LtLinear;
        plan.run(layer.weight, x, y, this.workspace, this.workspaceBytes);
      } else {
        // Yᵀ[out, N] = W[out, in] · Xᵀ[in, N]: W is column-major [in, out] (ld = in) used transposed.
        (this.cublas as Cublas).sgemm(OP_T, OP_N, layer.outFeatures, batch, layer.inFeatures, layer.weight, layer.inFeatures, x, layer.inFeatures, y, layer.outFeatures);
        (this.kernel as BiasActivation).run(y, layer.bias, layer.outFeatures, batch, relu);
      }
      src = 1 - src;
    });
    return this.buffers[src as 0 | 1];
  }

  /** Uploads an input for runLayers (benchmarks time the layers alone with it). */
  upload(input: Float32Array): void {
    this.cuda.toDevice(this.buffers[0], input);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    for (const plans of this.plans.values()) for (const p of plans) p.destroy();
    this.plans.clear();
    this.lt?.destroy();
    this.cublas?.destroy();
    this.kernel?.release();
    for (const pointer of this.allocations) this.cuda.free(pointer);
    this.allocations.length = 0;
  }

  private alloc(bytes: number): Pointer {
    const pointer = this.cuda.malloc(bytes);
    this.allocations.push(pointer);
    return pointer;
  }

  private chooseEpilogue(wanted: EpiloguePath | 'auto'): void {
    if (wanted !== 'nvrtc') {
      try {
        this.lt = CublasLt.create();
        this.epilogue = 'cublaslt';
        this.plan(1);
        return;
      } catch (error) {
        if (wanted === 'cublaslt') throw error;
        this.fallbackReason = describeError(error);
        for (const plans of this.plans.values()) for (const p of plans) p.destroy();
        this.plans.clear();
        this.lt?.destroy();
        this.lt = undefined;
      }
    }
    this.cublas = Cublas.create();
    this.kernel = BiasActivation.compile(this.cuda.computeCapability());
    this.epilogue = 'nvrtc';
  }

  /** cuBLASLt plans (descriptors + chosen algorithm) per batch size, built on first use. */
  private plan(batch: number): LtLinear[] {
    const known = this.plans.get(batch);
    if (known) return known;
    const plans: LtLinear[] = [];
    try {
      this.layers.forEach((layer, i) => {
        plans.push(new LtLinear(this.lt as CublasLt, layer.inFeatures, layer.outFeatures, batch, layer.bias, i < this.layers.length - 1, this.workspaceBytes));
      });
    } catch (error) {
      for (const p of plans) p.destroy();
      throw error;
    }
    this.plans.set(batch, plans);
    return plans;
  }
}
