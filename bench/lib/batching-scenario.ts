/**
 * The cluster, models and traffic mix the batching benchmarks share: four simulated L4 GPUs
 * serving three models, with realtime, interactive and batch traffic mixed in every model.
 */
import { DEVICE_PROFILES, MODEL_COSTS } from '../../src/gpu/simulated/latency-model.js';
import type { ClusterOptions, SimModel } from './batching-sim.js';
import type { ClassMix, TraceOptions, TraceShape } from './traces.js';

export const MODELS: readonly SimModel[] = [
  { model: 'resnet50', cost: MODEL_COSTS['resnet50'], maxBatchSize: 64 },
  { model: 'bert-base', cost: MODEL_COSTS['bert-base'], maxBatchSize: 64 },
  { model: 'vit-b16', cost: MODEL_COSTS['vit-b16'], maxBatchSize: 64 },
];

export const CLASSES: readonly ClassMix[] = [
  { sloClass: 'realtime', share: 0.2, deadlineMs: [40, 80] },
  { sloClass: 'interactive', share: 0.5, deadlineMs: [150, 400] },
  { sloClass: 'batch', share: 0.3, deadlineMs: [2_000, 5_000] },
];

export const CLUSTER: ClusterOptions = { gpus: 4, device: DEVICE_PROFILES.L4, models: MODELS, seed: 17, noiseCv: 0.05 };

/** How the scenario is described in every result's params. */
export const SCENARIO_PARAMS = {
  cluster: `${CLUSTER.gpus} x ${CLUSTER.device.name}, one batch at a time per GPU`,
  models: MODELS.map((m) => m.model),
  classes: 'realtime 20% (deadline 40-80 ms), interactive 50% (150-400 ms), batch 30% (2-5 s)',
};

export function traceOptions(shape: TraceShape, meanRatePerSec: number, durationMs: number, seed: number): TraceOptions {
  return {
    shape,
    meanRatePerSec,
    durationMs,
    seed,
    models: [
      { model: 'resnet50', share: 0.4 },
      { model: 'bert-base', share: 0.4 },
      { model: 'vit-b16', share: 0.2 },
    ],
    classes: CLASSES,
  };
}
