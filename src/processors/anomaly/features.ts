/**
 * The telemetry features LOF compares, each mapped to a common unit so that Euclidean distance weighs
 * them as intended: memory dominates (the question is out-of-memory), while utilisation, temperature
 * and power place a reading in context (a busy card and an idle one with the same memory differ).
 */
import type { GpuSample } from '../../domain/events/index.js';

export interface FeatureScales {
  /** Memory-growth rate (fraction of total per second) that counts as one unit; faster is clamped. */
  readonly memRatePerSec: number;
  /** Weight of utilisation (0..100 %), temperature (0..100 °C) and power (0..powerRangeW) after scaling to 0..1. */
  readonly contextWeight: number;
  readonly powerRangeW: number;
}

export const DEFAULT_FEATURE_SCALES: FeatureScales = { memRatePerSec: 0.05, contextWeight: 0.25, powerRangeW: 1000 };

export function memUsedFraction(sample: GpuSample): number {
  return sample.memTotalBytes > 0 ? sample.memUsedBytes / sample.memTotalBytes : 0;
}

/**
 * [memory used fraction, its growth rate, utilisation, temperature, power], scaled.
 * `memRatePerSec` comes from the caller's trend fit, which is steadier than a difference of two samples.
 */
export function featuresOf(sample: GpuSample, memRatePerSec: number, scales: FeatureScales = DEFAULT_FEATURE_SCALES): number[] {
  const rate = Math.max(-1, Math.min(1, memRatePerSec / scales.memRatePerSec));
  const w = scales.contextWeight;
  return [
    memUsedFraction(sample),
    rate,
    (w * sample.gpuUtil) / 100,
    (w * sample.temperatureC) / 100,
    (w * sample.powerW) / scales.powerRangeW,
  ];
}
