/**
 * Per-model queue policy: how long a request may wait, how many may wait, what happens when the
 * wait is over, and how batch size is chosen. Defaults come from the batcher's configuration;
 * a ManifestUpdated input may override any field for its model.
 */
import type { ServiceTimeFit } from './service-time.js';
import type { AimdOptions } from './sizing/aimd.js';

export type SizingConfig = ({ readonly kind: 'aimd' } & AimdOptions) | { readonly kind: 'model-based' };

export interface QueuePolicy {
  /** Requests allowed to wait per (model, version); a newcomer beyond it is rejected. */
  readonly maxQueueSize: number;
  /**
   * Queue timeout from arrival, ms. Undefined: a request times out when its deadline can no
   * longer be met even in a batch of one (deadline - predicted service time of one).
   */
  readonly timeoutMs?: number;
  /** On timeout: reject (RequestRejected with the reason) or keep waiting behind all others. */
  readonly onTimeout: 'reject' | 'keep';
  /** A waiting request is promoted one SLO class per `agingMs` waited (Infinity: no aging). */
  readonly agingMs: number;
  readonly sizing: SizingConfig;
  /** Multiplier on predicted service time covering its noise (1.1 = 10% headroom). */
  readonly headroom: number;
  /** Service time assumed before any batch of the model was measured. */
  readonly prior: ServiceTimeFit;
  /** Measured batches the service-time fit looks at. */
  readonly estimateWindow: number;
  /**
   * Early drop under load: when the queue holds enough for an efficient batch (one reaching this
   * fraction of a full batch's throughput), a request that could only meet its deadline in a
   * smaller batch is rejected instead of shrinking the batch. 0 turns it off.
   */
  readonly efficiencyFloor: number;
}

export const DEFAULT_QUEUE_POLICY: QueuePolicy = {
  maxQueueSize: 10_000,
  onTimeout: 'reject',
  agingMs: 2_000,
  sizing: { kind: 'model-based' },
  headroom: 1.15,
  prior: { fixedMs: 5, perSampleMs: 0.5 },
  estimateWindow: 64,
  efficiencyFloor: 0.5,
};
