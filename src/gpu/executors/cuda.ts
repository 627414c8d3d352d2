/**
 * The MLP on a real NVIDIA GPU through CudaMlp (cuBLASLt, or cuBLAS + NVRTC). Loading opens
 * the CUDA runtime, so a machine without a driver fails here with NoGpuError, not later.
 */
import type { ModelManifest, Tensor } from '../../domain/events/index.js';
import { CudaMlp, type EpiloguePath } from '../cuda-mlp.js';
import { CudaRuntime } from '../cudart.js';
import { decodeMlp, type MlpWeights } from '../mlp.js';
import { checkMlpManifest } from './cpu.js';
import { checkBatch, float32Tensor, float32View, type ExecutionResult, type Executor } from './executor.js';

export class CudaExecutor implements Executor {
  readonly simulated = false;
  private model: { mlp: MlpWeights; gpu: CudaMlp } | undefined;

  constructor(
    readonly manifest: ModelManifest,
    private readonly readWeights: (uri: string) => Promise<Uint8Array>,
    private readonly options: { device: number; epilogue?: EpiloguePath | 'auto' },
  ) {}

  async load(): Promise<void> {
    const mlp = decodeMlp(await this.readWeights(this.manifest.weightsUri));
    checkMlpManifest(this.manifest, mlp);
    const cuda = CudaRuntime.open(this.options.device);
    const gpu = new CudaMlp(cuda, mlp, { maxBatch: this.manifest.maxBatchSize, epilogue: this.options.epilogue ?? 'auto' });
    this.model = { mlp, gpu };
  }

  /** Which epilogue runs the bias and ReLU, and why it is not cuBLASLt when it is not. */
  get epilogue(): { path: EpiloguePath; fallbackReason: string } {
    const gpu = this.loaded().gpu;
    return { path: gpu.epilogue, fallbackReason: gpu.fallbackReason };
  }

  async execute(input: Tensor): Promise<ExecutionResult> {
    const { gpu } = this.loaded();
    const batch = checkBatch(this.manifest, input);
    const { output, transferUs, computeUs } = gpu.forward(float32View(input), batch);
    return { output: float32Tensor(output, [batch, gpu.outFeatures]), timings: { transferUs, computeUs }, simulated: false };
  }

  async unload(): Promise<void> {
    this.model?.gpu.release();
    this.model = undefined;
  }

  memoryEstimateBytes(batchSize: number): number {
    return CudaMlp.memoryEstimateBytes(this.loaded().mlp, batchSize);
  }

  private loaded(): { mlp: MlpWeights; gpu: CudaMlp } {
    if (!this.model) throw new RangeError(`${this.manifest.model}:${this.manifest.version} is not loaded`);
    return this.model;
  }
}
