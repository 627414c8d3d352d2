/**
 * Publishing a model manifest (workers load it, the dispatcher queues for it) and retiring a model
 * (a tombstone under its key: workers unload it, the dispatcher rejects what waits for it).
 */
import type { ModelManifest } from '../domain/events/manifest.js';
import type { Kafka } from '../kafka/client.js';
import { avroCodec } from '../kafka/codecs/topic-codec.js';
import { retirementOf } from '../kafka/manifest-tombstone.js';
import type { EventProducer } from '../kafka/producer.js';
import type { RegistryClient } from '../kafka/registry.js';
import type { Logger } from '../log.js';
import { readTopic } from '../replay/log-reader.js';

export const MANIFESTS_TOPIC = 'models.manifests';

export async function publishManifest(producer: EventProducer, registry: RegistryClient, manifest: ModelManifest): Promise<void> {
  const codec = await avroCodec(registry, 'models.manifests', 'model-manifest');
  await producer.send('models.manifests', [{ key: manifest.model, value: codec.encode(manifest) }]);
}

/** Publishes several manifests in one send, each keyed by its model. */
export async function publishManifests(producer: EventProducer, registry: RegistryClient, manifests: readonly ModelManifest[]): Promise<void> {
  if (manifests.length === 0) return;
  const codec = await avroCodec(registry, MANIFESTS_TOPIC, 'model-manifest');
  await producer.send(MANIFESTS_TOPIC, manifests.map((m) => ({ key: m.model, value: codec.encode(m) })));
}

/** Retires each model: a tombstone under its key, which compaction also uses to drop its manifests. */
export async function retireModels(producer: EventProducer, models: readonly string[]): Promise<void> {
  if (models.length === 0) return;
  await producer.send(MANIFESTS_TOPIC, models.map((model) => ({ key: model, value: null })));
}

/** A live manifest and where it sits on the topic. */
export interface LiveManifest {
  manifest: ModelManifest;
  partition: number;
  offset: string;
}

/**
 * What is live: the newest manifest of each model not retired since, read to the topic's current
 * end. A model's records share a partition (the key is the model), so the last one read is the newest.
 */
export async function readLiveManifests(kafka: Kafka, registry: RegistryClient, logger: Logger): Promise<Map<string, LiveManifest>> {
  const codec = await avroCodec(registry, MANIFESTS_TOPIC, 'model-manifest');
  const live = new Map<string, LiveManifest>();
  await readTopic(kafka, logger, MANIFESTS_TOPIC, async (m) => {
    const manifest = await codec.decode(m.value);
    live.set(manifest.model, { manifest, partition: m.partition, offset: m.offset });
  }, { onTombstone: (m) => void (m.key !== null && live.delete(retirementOf(m.key).model)) });
  return live;
}

/** The model the demo and the tests serve: the small MLP in the model store. */
export const DEMO_MANIFEST: ModelManifest = {
  model: 'mlp-small',
  version: '1',
  executor: 'cuda',
  weightsUri: 'mlp-64-128-10.safetensors',
  inputShape: [64],
  dtype: 'FP32',
  memoryPerSampleBytes: 1536,
  maxBatchSize: 256,
  preferredBatchSizes: [16, 32, 64, 128],
  maxQueueDelayMs: 5,
  commit: '',
};
