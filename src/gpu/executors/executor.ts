/**
 * One interface for everything that can run a model on a batch: a real GPU (cuda), the
 * TypeScript reference (cpu), a remote KServe v2 server (kserve-v2), or a simulated device.
 * The manifest's `executor` field picks the implementation.
 */
import { ConfigError } from '../../domain/errors.js';
import { DTYPE_BYTES, sameShape, type ModelManifest, type Tensor } from '../../domain/events/index.js';
import { TensorMismatchError } from '../errors.js';

export interface ExecutionTimings {
  /** Host↔device (or network) time, microseconds. */
  transferUs: number;
  computeUs: number;
}

export interface ExecutionResult {
  output: Tensor;
  timings: ExecutionTimings;
  /** True when no real device computed this: the output is a placeholder and the timings modelled. */
  simulated: boolean;
}

export interface Executor {
  readonly manifest: ModelManifest;
  readonly simulated: boolean;
  load(): Promise<void>;
  /** input: [N, ...manifest.inputShape]; N ≤ manifest.maxBatchSize. */
  execute(input: Tensor): Promise<ExecutionResult>;
  unload(): Promise<void>;
  /** Device memory the model needs to run a batch of `batchSize`, bytes. */
  memoryEstimateBytes(batchSize: number): number;
}

/** Checks a batch against the manifest before anything runs: dtype, shape, byte length. */
export function checkBatch(manifest: ModelManifest, input: Tensor): number {
  const where = `${manifest.model}:${manifest.version}`;
  if (input.dtype !== manifest.dtype) throw new TensorMismatchError(`${where} takes ${manifest.dtype}, batch is ${input.dtype}`);
  const [batch, ...rest] = input.shape;
  if (batch === undefined || !Number.isInteger(batch) || batch < 1) {
    throw new TensorMismatchError(`${where}: batch shape [${input.shape.join(', ')}] has no positive first dimension`);
  }
  if (!sameShape(rest, manifest.inputShape)) {
    throw new TensorMismatchError(`${where} takes [N, ${manifest.inputShape.join(', ')}], batch is [${input.shape.join(', ')}]`);
  }
  if (batch > manifest.maxBatchSize) throw new TensorMismatchError(`${where}: batch of ${batch} exceeds maxBatchSize ${manifest.maxBatchSize}`);
  const expected = input.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[input.dtype];
  if (input.data.byteLength !== expected) {
    throw new TensorMismatchError(`${where}: [${input.shape.join(', ')}] ${input.dtype} needs ${expected} bytes, batch carries ${input.data.byteLength}`);
  }
  return batch;
}

export { float32Tensor, float32View } from '../../domain/events/tensor.js';

export interface ExecutorDependencies {
  /** Resolves a manifest's weightsUri to bytes (a path under the model store). */
  readWeights(uri: string): Promise<Uint8Array>;
  /** GPU index for cuda executors. */
  device?: number;
  /** Builds a simulated executor; given by the shell so the latency model stays swappable. */
  simulated?(manifest: ModelManifest): Executor;
  fetch?: typeof fetch;
}

/** The executor a manifest names; nothing is loaded until load(). */
export async function createExecutor(manifest: ModelManifest, deps: ExecutorDependencies): Promise<Executor> {
  switch (manifest.executor) {
    case 'cpu': {
      const { CpuExecutor } = await import('./cpu.js');
      return new CpuExecutor(manifest, deps.readWeights);
    }
    case 'cuda': {
      const { CudaExecutor } = await import('./cuda.js');
      return new CudaExecutor(manifest, deps.readWeights, { device: deps.device ?? 0 });
    }
    case 'kserve-v2': {
      const { KServeV2Executor } = await import('./kserve-v2.js');
      return new KServeV2Executor(manifest, deps.fetch === undefined ? {} : { fetch: deps.fetch });
    }
    case 'simulated': {
      if (deps.simulated) return deps.simulated(manifest);
      const { SimulatedExecutor } = await import('./simulated.js');
      return new SimulatedExecutor(manifest, {});
    }
    default: {
      const never: never = manifest.executor;
      throw new ConfigError(`unknown executor '${String(never)}'`);
    }
  }
}
