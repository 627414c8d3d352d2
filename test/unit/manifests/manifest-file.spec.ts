import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { manifestDefaults } from '../../../src/domain/events/manifest.js';
import { ManifestError } from '../../../src/manifests/manifest-error.js';
import { MAX_BATCH_SIZE, parseManifestFile } from '../../../src/manifests/manifest-file.js';
import { projectPath } from '../../../src/paths.js';
import { DEMO_MANIFEST } from '../../../src/services/manifests.js';

const BASE = `
model: bert
executor: simulated
inputShape: [128]
dtype: FP32
memoryPerSampleBytes: 4096
maxBatchSize: 64
preferredBatchSizes: [8, 16, 32]
maxQueueDelayMs: 4
sloClasses: [interactive, batch]
versions:
  - version: "1"
    weights: bert/v1.safetensors
  - version: 2
    weights: bert/v2.safetensors
  - version: "3"
    weights: bert/v3.safetensors
traffic:
  stable: "1"
  canary: { version: "2", weightPercent: 10 }
  shadow: "3"
`;

/** The problems a file is refused with, as "field: message" lines. */
function problems(text: string, file = 'manifests/bert.yaml'): string[] {
  try {
    parseManifestFile(file, text);
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError);
    return (error as ManifestError).problems.map((p) => `${p.field}: ${p.message}`);
  }
  throw new Error('the file was accepted');
}

const edit = (from: string, to: string): string => {
  expect(BASE).toContain(from);
  return BASE.replace(from, to);
};

describe('parseManifestFile', () => {
  it('reads a full file into the manifest it publishes', () => {
    const { manifest, weightsToCheck } = parseManifestFile('manifests/bert.yaml', BASE);
    expect(manifest).toEqual({
      model: 'bert', version: '1', executor: 'simulated', weightsUri: 'bert/v1.safetensors', inputShape: [128], dtype: 'FP32',
      memoryPerSampleBytes: 4096, maxBatchSize: 64, preferredBatchSizes: [8, 16, 32], maxQueueDelayMs: 4, commit: '',
      sloClasses: ['interactive', 'batch'],
      weightsByVersion: { '1': 'bert/v1.safetensors', '2': 'bert/v2.safetensors', '3': 'bert/v3.safetensors' },
      canaryVersion: '2', canaryWeightPercent: 10, shadowVersion: '3',
    });
    expect(weightsToCheck.map((w) => w.field)).toEqual(['versions[0].weights', 'versions[1].weights', 'versions[2].weights']);
  });

  it('reads the committed example as the demo manifest', () => {
    const path = projectPath('models', 'manifests', 'mlp-small.yaml');
    const { manifest } = parseManifestFile(path, readFileSync(path, 'utf8'));
    expect(manifest).toEqual(manifestDefaults({ ...DEMO_MANIFEST, weightsByVersion: { [DEMO_MANIFEST.version]: DEMO_MANIFEST.weightsUri } }));
  });

  it('refuses unknown fields at every level, naming file and field', () => {
    expect(problems(edit('maxQueueDelayMs: 4', 'maxQueueDelayMs: 4\nmaxQueueDelay: 4'))).toEqual([expect.stringMatching(/^maxQueueDelay: unknown field/)]);
    expect(problems(edit('weightPercent: 10 }', 'weightPercent: 10, sticky: true }'))).toEqual([expect.stringMatching(/^traffic\.canary\.sticky: unknown field/)]);
    expect(problems(edit('weights: bert/v2.safetensors', 'weights: bert/v2.safetensors\n    sha: abc'))).toEqual([expect.stringMatching(/^versions\[1\]\.sha: unknown field/)]);
    try {
      parseManifestFile('manifests/bert.yaml', edit('dtype: FP32', 'dtype: FP32\ncolour: red'));
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/^a manifest is refused, nothing published: manifests\/bert\.yaml: colour: unknown field/);
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('refuses missing required fields and wrong types', () => {
    expect(problems(edit('dtype: FP32\n', ''))).toEqual(['dtype: is required', 'dtype: must be one of FP32, FP16, INT32, INT64, UINT8, got undefined']);
    expect(problems(edit('executor: simulated', 'executor: tpu'))).toEqual([expect.stringMatching(/^executor: must be one of cuda, cpu, kserve-v2, simulated/)]);
    expect(problems(edit('inputShape: [128]', 'inputShape: 128'))).toEqual([expect.stringMatching(/^inputShape: must be a list of integers/)]);
    expect(problems(edit('maxQueueDelayMs: 4', 'maxQueueDelayMs: "4"'))).toEqual(['maxQueueDelayMs: must be an integer, got "4"']);
  });

  it('refuses sizes that are not positive integers within limits', () => {
    expect(problems(edit('memoryPerSampleBytes: 4096', 'memoryPerSampleBytes: -4096'))).toEqual(['memoryPerSampleBytes: must be at least 1, got -4096']);
    expect(problems(edit('maxBatchSize: 64', 'maxBatchSize: 0'))).toEqual([`maxBatchSize: must be between 1 and ${MAX_BATCH_SIZE}, got 0`]);
    expect(problems(edit('maxBatchSize: 64', `maxBatchSize: ${MAX_BATCH_SIZE + 1}`))).toEqual([`maxBatchSize: must be between 1 and ${MAX_BATCH_SIZE}, got ${MAX_BATCH_SIZE + 1}`]);
    expect(problems(edit('inputShape: [128]', 'inputShape: [128, 0.5]'))).toEqual(['inputShape[1]: must be an integer, got 0.5']);
    expect(problems(edit('preferredBatchSizes: [8, 16, 32]', 'preferredBatchSizes: [8, 128]'))).toEqual(['preferredBatchSizes[1]: 128 exceeds maxBatchSize 64']);
    expect(problems(edit('preferredBatchSizes: [8, 16, 32]', 'preferredBatchSizes: [8, 8]'))).toEqual(['preferredBatchSizes: must not repeat a size']);
    // 64 samples of 4 GiB each cannot be one batch on any device.
    expect(problems(edit('memoryPerSampleBytes: 4096', `memoryPerSampleBytes: ${4 * 2 ** 30}`))).toEqual([expect.stringMatching(/^memoryPerSampleBytes: × maxBatchSize is 256\.0 GiB, more than one device holds/)]);
  });

  it('refuses repeated versions and traffic to undeclared versions', () => {
    expect(problems(edit('version: 2', 'version: "1"'))).toEqual([
      "versions[1].version: '1' is declared twice",
      "traffic.canary.version: '2' is not a declared version (1, 3)",
    ]);
    expect(problems(edit('stable: "1"', 'stable: "9"'))).toEqual(["traffic.stable: '9' is not a declared version (1, 2, 3)"]);
    expect(problems(edit('shadow: "3"', 'shadow: "1"'))).toEqual(["traffic.shadow: '1' is already the stable version"]);
    expect(problems(edit('weightPercent: 10', 'weightPercent: 100'))).toEqual(['traffic.canary.weightPercent: must be a number above 0 and below 100, got 100']);
  });

  it('requires the model to match the file name, one file per model', () => {
    expect(problems(BASE, 'manifests/roberta.yaml')).toEqual(["model: 'bert' must match the file name (roberta.yaml): one file per model"]);
  });

  it('takes URLs, not store paths, for kserve-v2', () => {
    const kserve = edit('executor: simulated', 'executor: kserve-v2').replace(/bert\/v(\d)\.safetensors/g, 'http://triton:8000/v$1');
    expect(parseManifestFile('bert.yaml', kserve).weightsToCheck).toEqual([]);
    expect(problems(edit('executor: simulated', 'executor: kserve-v2'))).toEqual([0, 1, 2].map((i) => expect.stringMatching(new RegExp(`^versions\\[${i}\\]\\.weights: must be a KServe v2 base URL`))));
  });

  it('refuses what is not YAML, or not a mapping, or has a key twice', () => {
    expect(problems('model: [')).toEqual([expect.stringMatching(/^: not valid YAML/)]);
    expect(problems('- 1\n- 2')).toEqual([': must be a YAML mapping of the manifest fields']);
    expect(problems(edit('dtype: FP32', 'dtype: FP32\ndtype: FP16'))).toEqual([expect.stringMatching(/^: not valid YAML: Map keys must be unique/)]);
  });
});
