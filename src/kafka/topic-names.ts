/**
 * The names of the pipeline's topics (declared in topics/topics.json), in one place for the
 * services that produce and consume them.
 */
export const TOPICS = {
  requests: 'inference.requests',
  heartbeats: 'gpu.heartbeats',
  telemetry: 'gpu.telemetry',
  anomalies: 'gpu.anomalies',
  reports: 'worker.reports',
  manifests: 'models.manifests',
  batches: 'inference.batches',
  decisions: 'scheduler.events',
} as const;
