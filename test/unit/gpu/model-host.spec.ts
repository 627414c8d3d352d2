import { describe, expect, it } from 'vitest';
import type { ModelManifest, Tensor } from '../../../src/domain/events/index.js';
import { ModelNotLoadedError, SafetensorsError, TensorMismatchError } from '../../../src/gpu/errors.js';
import { CpuExecutor } from '../../../src/gpu/executors/cpu.js';
import { float32Tensor, float32View, type Executor } from '../../../src/gpu/executors/executor.js';
import { encodeMlp, randomInput, randomMlp } from '../../../src/gpu/mlp.js';
import { ModelHost } from '../../../src/gpu/model-host.js';

const V1 = encodeMlp(randomMlp([4, 8, 2], 1));
const V2 = encodeMlp(randomMlp([4, 8, 2], 2));

function manifest(version: string): ModelManifest {
  return { model: 'm', version, executor: 'cpu', weightsUri: version, inputShape: [4], dtype: 'FP32', memoryPerSampleBytes: 64, maxBatchSize: 16, preferredBatchSizes: [], maxQueueDelayMs: 1, commit: '' };
}

/** A cpu executor whose every batch takes a few event-loop turns, so batches overlap a swap. */
class SlowCpu extends CpuExecutor {
  unloaded = false;
  override async execute(input: Tensor) {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    if (this.unloaded) throw new Error('ran on an unloaded executor');
    return super.execute(input);
  }
  override async unload(): Promise<void> {
    this.unloaded = true;
    await super.unload();
  }
}

function host(weights: Record<string, Uint8Array | Error>, made: SlowCpu[] = []): ModelHost {
  return new ModelHost(async (m) => {
    const e = new SlowCpu(m, async (uri) => {
      const w = weights[uri];
      if (w instanceof Error) throw w;
      return w as Uint8Array;
    });
    made.push(e);
    return e as Executor;
  });
}

describe('ModelHost', () => {
  it('hot-swaps under concurrent load with no failed batch, drains the old version, then unloads it', async () => {
    const made: SlowCpu[] = [];
    const h = host({ '1': V1, '2': V2 }, made);
    await h.swap(manifest('1'));
    const input = float32Tensor(randomInput(4, 4, 3), [4, 4]);
    const batches: Promise<{ modelVersion: string }>[] = [];
    let swap: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < 300; i++) {
      batches.push(h.execute('m', input));
      if (i === 150) swap = h.swap(manifest('2'));
      if (i % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    const report = await swap;
    const results = await Promise.allSettled(batches);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const versions = results.map((r) => (r as PromiseFulfilledResult<{ modelVersion: string }>).value.modelVersion);
    expect(versions.filter((v) => v === '1').length).toBeGreaterThan(0);
    expect(versions.filter((v) => v === '2').length).toBeGreaterThan(0);
    // Once a batch ran on v2, no later-submitted batch ran on v1: the switch is one point in time.
    expect(versions.slice(versions.indexOf('2')).every((v) => v === '2')).toBe(true);
    expect(report).toMatchObject({ model: 'm', from: '1', to: '2' });
    expect(made[0]!.unloaded).toBe(true);
    expect(made[1]!.unloaded).toBe(false);
    expect(h.loadedModels()).toEqual(['m:2']);
    expect(h.inFlight()).toBe(0);
  });

  it('keeps serving the old version when the new one fails to load', async () => {
    const h = host({ '1': V1, '2': new SafetensorsError('truncated') });
    await h.swap(manifest('1'));
    await expect(h.swap(manifest('2'))).rejects.toThrow(SafetensorsError);
    expect(h.loadedModels()).toEqual(['m:1']);
    const r = await h.execute('m', float32Tensor(randomInput(1, 4, 1), [1, 4]));
    expect(r.modelVersion).toBe('1');
    expect(float32View(r.output)).toHaveLength(2);
  });

  it('answers typed errors for a missing model and for a batch that does not match', async () => {
    const h = host({ '1': V1 });
    await expect(h.execute('m', float32Tensor(new Float32Array(4), [1, 4]))).rejects.toThrow(ModelNotLoadedError);
    await h.swap(manifest('1'));
    await expect(h.execute('m', float32Tensor(new Float32Array(5), [1, 5]))).rejects.toThrow(TensorMismatchError);
    await expect(h.execute('m', float32Tensor(new Float32Array(4), [1, 4]), '7')).rejects.toThrow(/version 7 is not on this worker/);
  });

  it('unload waits for running batches', async () => {
    const made: SlowCpu[] = [];
    const h = host({ '1': V1 }, made);
    await h.swap(manifest('1'));
    const running = h.execute('m', float32Tensor(new Float32Array(8), [2, 4]));
    await h.unload('m');
    await expect(running).resolves.toMatchObject({ modelVersion: '1' });
    expect(made[0]!.unloaded).toBe(true);
    expect(h.loadedModels()).toEqual([]);
  });
});
