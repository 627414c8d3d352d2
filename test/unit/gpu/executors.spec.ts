import { describe, expect, it } from 'vitest';
import type { ModelManifest } from '../../../src/domain/events/index.js';
import { TensorMismatchError } from '../../../src/gpu/errors.js';
import { CpuExecutor } from '../../../src/gpu/executors/cpu.js';
import { checkBatch, createExecutor, float32Tensor, float32View } from '../../../src/gpu/executors/executor.js';
import { SimulatedExecutor } from '../../../src/gpu/executors/simulated.js';
import { encodeMlp, mlpForwardCpu, randomInput, randomMlp, type MlpWeights } from '../../../src/gpu/mlp.js';
import { createLatencyModel, DEVICE_PROFILES, MODEL_COSTS } from '../../../src/gpu/simulated/latency-model.js';

function manifest(executor: ModelManifest['executor'], inputShape: number[], maxBatchSize = 8): ModelManifest {
  return { model: 'm', version: '1', executor, weightsUri: 'mem://m', inputShape, dtype: 'FP32', memoryPerSampleBytes: 100, maxBatchSize, preferredBatchSizes: [], maxQueueDelayMs: 1, commit: '' };
}

/** 2 → 2 → 1 with small integer weights: every intermediate is exact in fp32. */
const KNOWN: MlpWeights = {
  layers: [
    { inFeatures: 2, outFeatures: 2, weight: Float32Array.from([1, 2, -3, 1]), bias: Float32Array.from([0.5, -1]) },
    { inFeatures: 2, outFeatures: 1, weight: Float32Array.from([2, -1]), bias: Float32Array.from([0.25]) },
  ],
};

describe('cpu reference', () => {
  it('is exact on known weights (ReLU between layers, none after the last)', async () => {
    const exec = new CpuExecutor(manifest('cpu', [2]), async () => encodeMlp(KNOWN));
    await exec.load();
    // x = [1, 1]: h = relu([1+2+0.5, -3+1-1]) = [3.5, 0]; y = 2*3.5 - 0 + 0.25 = 7.25
    // x = [-1, 2]: h = relu([-1+4+0.5, 3+2-1]) = [3.5, 4]; y = 7 - 4 + 0.25 = 3.25
    // x = [-2, -2]: h = relu([-6+0.5, 6-2-1]) = [0, 3]; y = -3 + 0.25 = -2.75 (negative: no ReLU on the output)
    const r = await exec.execute(float32Tensor(Float32Array.from([1, 1, -1, 2, -2, -2]), [3, 2]));
    expect(r.output.shape).toEqual([3, 1]);
    expect(Array.from(float32View(r.output))).toEqual([7.25, 3.25, -2.75]);
    expect(r.simulated).toBe(false);
  });

  it('treats row-major [out, in] weights as nn.Linear does: y = x·Wᵀ + b', () => {
    const mlp = randomMlp([5, 3], 9);
    const x = randomInput(2, 5, 1);
    const y = mlpForwardCpu(mlp, x, 2);
    const w = mlp.layers[0]!.weight;
    const manual = Math.fround(mlp.layers[0]!.bias[2]! + [0, 1, 2, 3, 4].reduce((s, i) => s + x[5 + i]! * w[2 * 5 + i]!, 0));
    expect(y[1 * 3 + 2]).toBeCloseTo(manual, 6);
  });

  it('refuses a manifest that does not match the weights', async () => {
    const exec = new CpuExecutor(manifest('cpu', [3]), async () => encodeMlp(KNOWN));
    await expect(exec.load()).rejects.toThrow(TensorMismatchError);
  });
});

describe('checkBatch', () => {
  const m = manifest('cpu', [2], 4);
  it.each([
    ['a wrong dtype', { dtype: 'INT32' as const, shape: [1, 2], data: new Uint8Array(8) }, /takes FP32/],
    ['a wrong feature size', { dtype: 'FP32' as const, shape: [1, 3], data: new Uint8Array(12) }, /takes \[N, 2\]/],
    ['an extra dimension', { dtype: 'FP32' as const, shape: [1, 2, 1], data: new Uint8Array(8) }, /takes \[N, 2\]/],
    ['an empty batch', { dtype: 'FP32' as const, shape: [0, 2], data: new Uint8Array(0) }, /no positive first dimension/],
    ['too many members', { dtype: 'FP32' as const, shape: [5, 2], data: new Uint8Array(40) }, /exceeds maxBatchSize 4/],
    ['bytes that disagree with the shape', { dtype: 'FP32' as const, shape: [2, 2], data: new Uint8Array(12) }, /needs 16 bytes/],
  ])('refuses %s with TensorMismatchError', (_name, tensor, message) => {
    expect(() => checkBatch(m, tensor)).toThrow(TensorMismatchError);
    expect(() => checkBatch(m, tensor)).toThrow(message);
  });

  it('accepts a matching batch and returns its size', () => {
    expect(checkBatch(m, { dtype: 'FP32', shape: [3, 2], data: new Uint8Array(24) })).toBe(3);
  });
});

describe('simulated executor', () => {
  const latency = (): ReturnType<typeof createLatencyModel> => createLatencyModel({ device: DEVICE_PROFILES.H100, cost: MODEL_COSTS['mlp-small'], seed: 5 });

  it('says simulated on every output and is deterministic for a seed', async () => {
    const run = async (): Promise<number[]> => {
      const exec = new SimulatedExecutor(manifest('simulated', [4], 64), { latency: latency(), outputFeatures: 3 });
      await exec.load();
      const out: number[] = [];
      for (const n of [1, 8, 64]) {
        const r = await exec.execute(float32Tensor(new Float32Array(n * 4), [n, 4]));
        expect(r.simulated).toBe(true);
        expect(r.output.shape).toEqual([n, 3]);
        out.push(r.timings.computeUs, r.timings.transferUs);
      }
      return out;
    };
    const a = await run();
    expect(await run()).toEqual(a);
    expect(a[4]!).toBeGreaterThan(a[0]!);
  });

  it('checks batches like a real executor', async () => {
    const exec = new SimulatedExecutor(manifest('simulated', [4]), {});
    await exec.load();
    await expect(exec.execute(float32Tensor(new Float32Array(3), [1, 3]))).rejects.toThrow(TensorMismatchError);
  });
});

describe('createExecutor', () => {
  it('picks the implementation the manifest names', async () => {
    const deps = { readWeights: async () => encodeMlp(KNOWN) };
    expect(await createExecutor(manifest('cpu', [2]), deps)).toBeInstanceOf(CpuExecutor);
    expect((await createExecutor(manifest('simulated', [2]), deps)).simulated).toBe(true);
    expect((await createExecutor({ ...manifest('kserve-v2', [2]), weightsUri: 'http://127.0.0.1:1' }, deps)).simulated).toBe(false);
  });
});
