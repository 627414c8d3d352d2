import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { modelStoreReader } from '../../../src/gpu/model-store.js';

describe('the model store', () => {
  const root = mkdtempSync(join(tmpdir(), 'gpuflow-store-'));
  const store = join(root, 'store');
  mkdirSync(join(store, 'mlp'), { recursive: true });
  writeFileSync(join(store, 'mlp', 'weights.safetensors'), 'inside');
  writeFileSync(join(root, 'secret.txt'), 'outside');
  symlinkSync(join(root, 'secret.txt'), join(store, 'link-out'));
  const read = modelStoreReader(store);

  it('reads weights by a path inside the store', async () => {
    expect(Buffer.from(await read('mlp/weights.safetensors')).toString()).toBe('inside');
  });

  it('refuses absolute paths, parent traversal and links that lead outside, with ConfigError', async () => {
    for (const uri of [join(root, 'secret.txt'), '../secret.txt', 'mlp/../../secret.txt', 'link-out']) {
      await expect(read(uri)).rejects.toBeInstanceOf(ConfigError);
    }
    await expect(read('../secret.txt')).rejects.toThrow(/outside the model store/);
  });

  it('says which file is missing', async () => {
    await expect(read('nope.safetensors')).rejects.toThrow(/not found in the model store/);
  });
});
