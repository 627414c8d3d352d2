/**
 * The MLP in plain TypeScript: slow, exact, and the reference every GPU result is compared to.
 */
import { performance } from 'node:perf_hooks';
import type { ModelManifest, Tensor } from '../../domain/events/index.js';
import { TensorMismatchError } from '../errors.js';
import { decodeMlp, mlpForwardCpu, mlpInputFeatures, mlpOutputFeatures, mlpParameterBytes, type MlpWeights } from '../mlp.js';
import { checkBatch, float32Tensor, float32View, type ExecutionResult, type Executor } from './executor.js';

/** Checks that an MLP fits its manifest: FP32 and a flat input of the first layer's width. */
export function checkMlpManifest(manifest: ModelManifest, mlp: MlpWeights): void {
  const features = mlpInputFeatures(mlp);
  if (manifest.dtype !== 'FP32') throw new TensorMismatchError(`${manifest.model}:${manifest.version} is an FP32 MLP, manifest says ${manifest.dtype}`);
  if (manifest.inputShape.length !== 1 || manifest.inputShape[0] !== features) {
    throw new TensorMismatchError(`${manifest.model}:${manifest.version} takes [N, ${features}], manifest says [N, ${manifest.inputShape.join(', ')}]`);
  }
}

export class CpuExecutor implements Executor {
  readonly simulated = false;
  private mlp: MlpWeights | undefined;

  constructor(
    readonly manifest: ModelManifest,
    private readonly readWeights: (uri: string) => Promise<Uint8Array>,
  ) {}

  async load(): Promise<void> {
    const mlp = decodeMlp(await this.readWeights(this.manifest.weightsUri));
    checkMlpManifest(this.manifest, mlp);
    this.mlp = mlp;
  }

  async execute(input: Tensor): Promise<ExecutionResult> {
    const mlp = this.loaded();
    const batch = checkBatch(this.manifest, input);
    const start = performance.now();
    const output = mlpForwardCpu(mlp, float32View(input), batch);
    const computeUs = (performance.now() - start) * 1000;
    return { output: float32Tensor(output, [batch, mlpOutputFeatures(mlp)]), timings: { transferUs: 0, computeUs }, simulated: false };
  }

  async unload(): Promise<void> {
    this.mlp = undefined;
  }

  /** Host memory, reported in the same unit so a scheduler can treat every executor alike. */
  memoryEstimateBytes(batchSize: number): number {
    const mlp = this.loaded();
    const widest = Math.max(mlpInputFeatures(mlp), ...mlp.layers.map((l) => l.outFeatures));
    return mlpParameterBytes(mlp) + 2 * batchSize * widest * 4;
  }

  private loaded(): MlpWeights {
    if (!this.mlp) throw new RangeError(`${this.manifest.model}:${this.manifest.version} is not loaded`);
    return this.mlp;
  }
}
