/**
 * A what-if policy file: the batching and scheduling configuration to try, as JSON.
 *
 *   {
 *     "name": "longer batch delay",
 *     "batcher":   { "efficiencyFloor": 0, "headroom": 1.1 },          // QueuePolicy fields
 *     "scheduler": { "maxAttempts": 5 },                                // SchedulerConfig fields
 *     "manifests": { "mlp-small": { "maxQueueDelayMs": 50, "maxBatchSize": 64 } },
 *     "fleet":     { "slots": 4, "workers": 3 }
 *   }
 *
 * Every section is optional; what a section leaves out keeps the recorded value. `fleet.slots`
 * replaces each worker's slot count; `fleet.workers` replaces the recorded workers with that many
 * copies of the first one, alive for the whole range.
 */
import { ConfigError } from '../domain/errors.js';
import type { ModelManifest } from '../domain/events/manifest.js';
import { DEFAULT_QUEUE_POLICY, type QueuePolicy } from '../processors/batching/queue-policy.js';
import { DEFAULT_SCHEDULER_CONFIG, schedulerConfig, type SchedulerConfig } from '../processors/scheduling/config.js';

export type ManifestOverride = Partial<Pick<ModelManifest, 'maxBatchSize' | 'preferredBatchSizes' | 'maxQueueDelayMs'>>;

export interface WhatIfPolicy {
  name: string;
  batcher: Partial<QueuePolicy>;
  scheduler: Partial<SchedulerConfig>;
  manifests: Readonly<Record<string, ManifestOverride>>;
  fleet: { slots?: number; workers?: number };
}

const SECTIONS = ['name', 'batcher', 'scheduler', 'manifests', 'fleet'];
const MANIFEST_FIELDS = ['maxBatchSize', 'preferredBatchSizes', 'maxQueueDelayMs'];

function objectAt(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function onlyKnown(value: Record<string, unknown>, known: readonly string[], where: string): void {
  const unknown = Object.keys(value).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new ConfigError(`${where}: unknown field(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
}

const positiveInteger = (value: unknown, where: string): number => {
  if (!Number.isInteger(value) || (value as number) < 1) throw new ConfigError(`${where} must be a positive integer, got ${JSON.stringify(value)}`);
  return value as number;
};

/** Parses and checks a policy file's text; `source` names it in errors. */
export function parsePolicy(text: string, source: string): WhatIfPolicy {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`${source} is not valid JSON`, { cause });
  }
  const top = objectAt(raw, source);
  onlyKnown(top, SECTIONS, source);
  const batcher = objectAt(top.batcher, `${source}: batcher`);
  onlyKnown(batcher, Object.keys(DEFAULT_QUEUE_POLICY).concat('timeoutMs'), `${source}: batcher`);
  const scheduler = objectAt(top.scheduler, `${source}: scheduler`);
  onlyKnown(scheduler, Object.keys(DEFAULT_SCHEDULER_CONFIG), `${source}: scheduler`);
  schedulerConfig(scheduler as Partial<SchedulerConfig>);
  const manifests: Record<string, ManifestOverride> = {};
  for (const [model, value] of Object.entries(objectAt(top.manifests, `${source}: manifests`))) {
    const override = objectAt(value, `${source}: manifests.${model}`);
    onlyKnown(override, MANIFEST_FIELDS, `${source}: manifests.${model}`);
    if (override.maxBatchSize !== undefined) positiveInteger(override.maxBatchSize, `${source}: manifests.${model}.maxBatchSize`);
    if (override.maxQueueDelayMs !== undefined && !(typeof override.maxQueueDelayMs === 'number' && override.maxQueueDelayMs >= 0)) {
      throw new ConfigError(`${source}: manifests.${model}.maxQueueDelayMs must be a number >= 0`);
    }
    if (override.preferredBatchSizes !== undefined && !(Array.isArray(override.preferredBatchSizes) && override.preferredBatchSizes.every((n) => Number.isInteger(n) && n >= 1))) {
      throw new ConfigError(`${source}: manifests.${model}.preferredBatchSizes must be a list of positive integers`);
    }
    manifests[model] = override as ManifestOverride;
  }
  const fleetRaw = objectAt(top.fleet, `${source}: fleet`);
  onlyKnown(fleetRaw, ['slots', 'workers'], `${source}: fleet`);
  const fleet: WhatIfPolicy['fleet'] = {};
  if (fleetRaw.slots !== undefined) fleet.slots = positiveInteger(fleetRaw.slots, `${source}: fleet.slots`);
  if (fleetRaw.workers !== undefined) fleet.workers = positiveInteger(fleetRaw.workers, `${source}: fleet.workers`);
  const name = top.name === undefined ? 'alternative' : String(top.name);
  return { name, batcher: batcher as Partial<QueuePolicy>, scheduler: scheduler as Partial<SchedulerConfig>, manifests, fleet };
}
