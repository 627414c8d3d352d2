/**
 * A model on a simulated device: the batch is checked like a real one, the service time comes
 * from the deterministic latency model, and the output is a zero tensor of the declared width.
 * Every result says `simulated: true`.
 */
import type { ModelManifest, Tensor } from '../../domain/events/index.js';
import { createLatencyModel, DEVICE_PROFILES, MODEL_COSTS, type LatencyModel } from '../simulated/latency-model.js';
import { checkBatch, float32Tensor, type ExecutionResult, type Executor } from './executor.js';

/** Host↔device bandwidth assumed for the transfer part of a simulated batch (PCIe Gen5 x16, order of magnitude). */
const SIMULATED_LINK_BYTES_PER_US = 25_000;

export interface SimulatedExecutorOptions {
  latency?: LatencyModel;
  /** Width of the output row; defaults to the input's flattened width. */
  outputFeatures?: number;
  /** Current time in ms for the latency model's time-windowed spikes; virtual 0 when absent. */
  now?: () => number;
  /** Waits out the modelled time (real-time simulations); by default results come at once. */
  wait?: (ms: number) => Promise<void>;
}

export class SimulatedExecutor implements Executor {
  readonly simulated = true;
  private readonly latency: LatencyModel;
  private loaded = false;

  constructor(
    readonly manifest: ModelManifest,
    private readonly options: SimulatedExecutorOptions,
  ) {
    this.latency = options.latency ?? createLatencyModel({ device: DEVICE_PROFILES.H100, cost: MODEL_COSTS['mlp-small'], seed: 1 });
  }

  async load(): Promise<void> {
    this.loaded = true;
  }

  async execute(input: Tensor): Promise<ExecutionResult> {
    if (!this.loaded) throw new RangeError(`${this.manifest.model}:${this.manifest.version} is not loaded`);
    const batch = checkBatch(this.manifest, input);
    const width = this.options.outputFeatures ?? this.manifest.inputShape.reduce((a, b) => a * b, 1);
    const serviceMs = this.latency.sample(batch, this.options.now?.() ?? 0);
    const transferUs = input.data.byteLength / SIMULATED_LINK_BYTES_PER_US + (batch * width * 4) / SIMULATED_LINK_BYTES_PER_US;
    if (this.options.wait) await this.options.wait(serviceMs);
    return {
      output: float32Tensor(new Float32Array(batch * width), [batch, width]),
      timings: { transferUs, computeUs: Math.max(0, serviceMs * 1000 - transferUs) },
      simulated: true,
    };
  }

  async unload(): Promise<void> {
    this.loaded = false;
  }

  memoryEstimateBytes(batchSize: number): number {
    return this.manifest.memoryPerSampleBytes * batchSize;
  }
}
