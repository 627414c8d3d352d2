/**
 * A pure, deterministic model of how long a GPU takes to run one batch, for simulated devices,
 * virtual-time benchmarks and replay. Service time grows linearly with the batch size (a fixed
 * per-launch overhead plus a per-sample cost) up to the model's optimal batch on the device; past
 * it the device is saturated and each extra sample costs more. Noise is multiplicative and
 * log-normal, drawn from a seeded source, so the same seed and the same calls give the same
 * times; spikes (a slow neighbour, thermal throttling, a noisy PCIe link) multiply the time
 * inside given windows or at random.
 *
 * The numbers in the presets are illustrative orders of magnitude for common model families on
 * each device class, not measurements: every simulated output must say it is simulated.
 */
import { seededRandom, type Random } from '../../domain/random.js';

/** A device class. `speed` is relative throughput, H100 = 1. */
export interface DeviceProfile {
  readonly name: string;
  readonly memoryBytes: number;
  readonly speed: number;
}

const GIB = 2 ** 30;

export const DEVICE_PROFILES = {
  H100: { name: 'NVIDIA H100 80GB HBM3 (simulated)', memoryBytes: 80 * GIB, speed: 1 },
  H200: { name: 'NVIDIA H200 (simulated)', memoryBytes: 141 * GIB, speed: 1.15 },
  A100: { name: 'NVIDIA A100-SXM4-80GB (simulated)', memoryBytes: 80 * GIB, speed: 0.55 },
  L4: { name: 'NVIDIA L4 (simulated)', memoryBytes: 24 * GIB, speed: 0.2 },
} as const satisfies Record<string, DeviceProfile>;

export type DeviceProfileName = keyof typeof DEVICE_PROFILES;

/** What one model costs on the reference device (H100), milliseconds. */
export interface ModelCost {
  /** Per-batch overhead: launch, copies, framework (ms). */
  readonly fixedMs: number;
  /** Marginal cost of one more sample below saturation (ms). */
  readonly perSampleMs: number;
  /** Batch size beyond which the device is saturated. */
  readonly optimalBatch: number;
  /** Extra fraction of perSampleMs each sample past optimalBatch costs (0.5 = 50% more). */
  readonly saturationPenalty: number;
}

export const MODEL_COSTS = {
  'resnet50': { fixedMs: 1.6, perSampleMs: 0.09, optimalBatch: 128, saturationPenalty: 0.6 },
  'bert-base': { fixedMs: 2.5, perSampleMs: 0.35, optimalBatch: 64, saturationPenalty: 0.8 },
  'vit-b16': { fixedMs: 2.0, perSampleMs: 0.25, optimalBatch: 96, saturationPenalty: 0.7 },
  'mlp-small': { fixedMs: 0.4, perSampleMs: 0.01, optimalBatch: 256, saturationPenalty: 0.5 },
} as const satisfies Record<string, ModelCost>;

/** Inside [fromMs, toMs) every batch takes `factor` times longer. */
export interface LatencySpike {
  readonly fromMs: number;
  readonly toMs: number;
  readonly factor: number;
}

export interface LatencyModelOptions {
  readonly device: DeviceProfile;
  readonly cost: ModelCost;
  readonly seed: number;
  /** Coefficient of variation of the log-normal noise; 0 = none. Default 0.05. */
  readonly noiseCv?: number;
  /** Deterministic slow windows (virtual time). */
  readonly spikes?: readonly LatencySpike[];
  /** Independent random slow batches: each batch with `probability` takes `factor` times longer. */
  readonly randomSpikes?: { readonly probability: number; readonly factor: number };
}

export interface LatencyModel {
  readonly device: DeviceProfile;
  readonly cost: ModelCost;
  /** Noise-free service time of a batch of `batchSize` (ms). */
  expectedMs(batchSize: number): number;
  /** One draw of the service time of a batch started at `atMs` (ms). Advances the seeded source. */
  sample(batchSize: number, atMs: number): number;
}

/** Noise-free service time (ms) of a batch on a device: overhead + per-sample, worse past saturation. */
export function expectedServiceMs(device: DeviceProfile, cost: ModelCost, batchSize: number): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  const linear = Math.min(batchSize, cost.optimalBatch);
  const saturated = Math.max(0, batchSize - cost.optimalBatch);
  const ms = cost.fixedMs + cost.perSampleMs * linear + cost.perSampleMs * (1 + cost.saturationPenalty) * saturated;
  return ms / device.speed;
}

export function createLatencyModel(options: LatencyModelOptions): LatencyModel {
  const { device, cost } = options;
  const cv = options.noiseCv ?? 0.05;
  if (cv < 0) throw new RangeError(`noiseCv must be >= 0, got ${cv}`);
  const sigma = Math.sqrt(Math.log(1 + cv * cv));
  const random: Random = seededRandom(options.seed);
  const spikes = options.spikes ?? [];
  return {
    device,
    cost,
    expectedMs: (batchSize) => expectedServiceMs(device, cost, batchSize),
    sample(batchSize, atMs) {
      let ms = expectedServiceMs(device, cost, batchSize);
      // Mean-preserving log-normal: E[exp(N(-s²/2, s))] = 1.
      if (sigma > 0) ms *= Math.exp(random.normal(-sigma * sigma / 2, sigma));
      for (const spike of spikes) if (atMs >= spike.fromMs && atMs < spike.toMs) ms *= spike.factor;
      if (options.randomSpikes && random.next() < options.randomSpikes.probability) ms *= options.randomSpikes.factor;
      return ms;
    },
  };
}
