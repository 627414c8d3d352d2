/** Every read model the projector maintains, in the order it applies them. */
import { anomaliesProjection } from './anomalies.js';
import { batchSizesProjection } from './batch-sizes.js';
import { clusterProjection } from './cluster.js';
import { loadProjection } from './load.js';
import { modelInferenceProjection } from './model-inference.js';
import { modelVersionsProjection } from './model-versions.js';
import type { Projection } from './projection.js';
import { queuesProjection } from './queues.js';
import { shadowDivergenceProjection } from './shadow-divergence.js';
import { tenantSlaProjection } from './tenant-sla.js';

export const PROJECTIONS: readonly Projection[] = [
  clusterProjection,
  queuesProjection,
  tenantSlaProjection,
  modelInferenceProjection,
  batchSizesProjection,
  anomaliesProjection,
  loadProjection,
  modelVersionsProjection,
] as unknown as readonly Projection[];
