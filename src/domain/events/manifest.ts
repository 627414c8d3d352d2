import type { SloClass } from './request.js';
import type { DType } from './tensor.js';

export type ExecutorKind = 'cuda' | 'cpu' | 'kserve-v2' | 'simulated';

/**
 * models.manifests (compacted, key: model). The live manifest of one model: `version` is the stable
 * version, the one traffic goes to by default. The optional fields came later (schema version 2);
 * a manifest written before them reads as their defaults (see `manifestDefaults`).
 */
export interface ModelManifest {
  model: string;
  /** The stable version. */
  version: string;
  executor: ExecutorKind;
  /** Path under the model store, or a KServe v2 base URL for kserve-v2. */
  weightsUri: string;
  inputShape: number[];
  dtype: DType;
  /** Device memory one sample needs while running, bytes. */
  memoryPerSampleBytes: number;
  maxBatchSize: number;
  preferredBatchSizes: number[];
  maxQueueDelayMs: number;
  /** Git commit the manifest came from, '' when published by hand. */
  commit: string;
  /** SLO classes the model serves; empty (the default): every class. */
  sloClasses?: SloClass[];
  /** Every declared version and its weights (same meaning as weightsUri); empty (the default): only `version`. */
  weightsByVersion?: Record<string, string>;
  /** Version that receives a share of the traffic beside the stable one; '' (the default): none. */
  canaryVersion?: string;
  /** Percent of request keys routed to the canary, 0 to 100; 0 (the default) without a canary. */
  canaryWeightPercent?: number;
  /** Version that receives a copy of the traffic, whose answers never reach a client; '' (the default): none. */
  shadowVersion?: string;
}

/**
 * models.manifests: a tombstone (a null value under the model's key) retires the model. Its queued
 * requests are rejected, later ones are refused as for an unknown model, and workers unload it.
 */
export interface ModelRetired {
  readonly type: 'ModelRetired';
  readonly model: string;
}

/** One record of models.manifests: a model's live manifest, or its retirement. */
export type ManifestRecord = ModelManifest | ModelRetired;

export function isRetirement(record: ManifestRecord): record is ModelRetired {
  return (record as Partial<ModelRetired>).type === 'ModelRetired';
}

/** A manifest with every optional field present: what a consumer of any schema version can rely on. */
export function manifestDefaults(m: ModelManifest): Required<ModelManifest> {
  return {
    ...m,
    sloClasses: m.sloClasses ?? [],
    weightsByVersion: m.weightsByVersion ?? {},
    canaryVersion: m.canaryVersion ?? '',
    canaryWeightPercent: m.canaryWeightPercent ?? 0,
    shadowVersion: m.shadowVersion ?? '',
  };
}
