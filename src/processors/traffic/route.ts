/**
 * Where a request goes: the stable version, or the canary for the share of keys the manifest
 * gives it, plus a shadow copy when the manifest names a shadow version. Pure and sticky: the
 * choice depends only on the manifest, the key and whether the rollout was aborted.
 *
 * The key is the tenant and the request id (`requestKey`): InferenceRequest has no client-chosen
 * routing key, so a request keeps its version across re-deliveries and replays, and a client that
 * resends a request under the same id meets the same version.
 */
import type { InferenceRequest, ModelManifest } from '../../domain/events/index.js';
import { manifestDefaults } from '../../domain/events/manifest.js';
import { bucketOf, TRAFFIC_BUCKETS } from './sticky-hash.js';

export interface TrafficChoice {
  /** The version the request is served by (stamped on it before batching). */
  version: string;
  /** True when `version` is the canary. */
  canary: boolean;
  /** Version that also runs a copy of the request, never answering the client; null when none. */
  shadowVersion: string | null;
}

/** The key requests are routed by: tenant and request id (see the file's comment). */
export function requestKey(request: Pick<InferenceRequest, 'tenant' | 'requestId'>): string {
  return `${request.tenant}\u0000${request.requestId}`;
}

/** Buckets (of TRAFFIC_BUCKETS) that go to a canary of `weightPercent`. */
export function canaryBuckets(weightPercent: number): number {
  const clamped = Math.min(100, Math.max(0, weightPercent));
  return Math.round((clamped / 100) * TRAFFIC_BUCKETS);
}

/**
 * The version for `key` under `manifest`. `aborted`: the canary was rolled back, so everything
 * goes to stable until a new manifest arrives. A request that names a version keeps it (no canary),
 * but is still shadowed.
 */
export function routeRequest(manifest: ModelManifest, key: string, aborted: boolean, requested = ''): TrafficChoice {
  const m = manifestDefaults(manifest);
  const shadowVersion = m.shadowVersion !== '' && m.shadowVersion !== m.version ? m.shadowVersion : null;
  if (requested !== '') return { version: requested, canary: false, shadowVersion };
  const hasCanary = m.canaryVersion !== '' && m.canaryVersion !== m.version && !aborted;
  const canary = hasCanary && bucketOf(key) < canaryBuckets(m.canaryWeightPercent);
  return { version: canary ? m.canaryVersion : m.version, canary, shadowVersion };
}

/** Every version a manifest routes traffic to: stable, then canary and shadow when set. */
export function routedVersions(manifest: ModelManifest): string[] {
  const m = manifestDefaults(manifest);
  return [...new Set([m.version, m.canaryVersion, m.shadowVersion].filter((v) => v !== ''))];
}
