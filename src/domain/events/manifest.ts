import type { DType } from './tensor.js';

export type ExecutorKind = 'cuda' | 'cpu' | 'kserve-v2' | 'simulated';

/** models.manifests (compacted, key: model). One version of one model. */
export interface ModelManifest {
  model: string;
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
}
