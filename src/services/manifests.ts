/** Publishing a model manifest: workers load it, the dispatcher queues for it. */
import type { ModelManifest } from '../domain/events/manifest.js';
import { avroCodec } from '../kafka/codecs/topic-codec.js';
import type { EventProducer } from '../kafka/producer.js';
import type { RegistryClient } from '../kafka/registry.js';

export async function publishManifest(producer: EventProducer, registry: RegistryClient, manifest: ModelManifest): Promise<void> {
  const codec = await avroCodec(registry, 'models.manifests', 'model-manifest');
  await producer.send('models.manifests', [{ key: manifest.model, value: await codec.encode(manifest) }]);
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
