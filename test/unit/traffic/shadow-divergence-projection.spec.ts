import { describe, expect, it } from 'vitest';
import type { InferenceResult } from '../../../src/domain/events/index.js';
import { float32Tensor } from '../../../src/domain/events/tensor.js';
import { encodeTensor } from '../../../src/kafka/codecs/tensor-codec.js';
import { metricFamilies } from '../../../src/projections/metrics.js';
import { fold } from '../../../src/projections/projection.js';
import { shadowDivergenceProjection } from '../../../src/projections/shadow-divergence.js';

const result = (requestId: string, version: string, values: number[], computeUs: number): InferenceResult => ({
  requestId, tenant: 't', model: 'm', modelVersion: version, sloClass: 'batch', status: 'OK', reason: '', batchId: 'b', workerId: 'w', workerEpoch: 1,
  output: encodeTensor(float32Tensor(new Float32Array(values), [1, values.length])),
  latency: { queueUs: 100, batchUs: 0, transferUs: 0, computeUs }, deadlineMs: 0, completedAtMs: 0, simulated: true,
});

describe('shadow-divergence projection', () => {
  it('pairs each shadow answer with the client answer, in either order, and exports the divergence', () => {
    const events = [
      result('a', '1', [1, 2], 50), result('b~shadow', '3', [0, 0], 10), result('a~shadow', '3', [1, 2.5], 550), result('b', '1', [0, 0.25], 20),
    ].map((value) => ({ kind: 'shadow' as const, value }));
    const state = fold(shadowDivergenceProjection, events);
    const doc = state.get('model/m/3');
    expect(doc).toMatchObject({ comparisons: 2, outputComparisons: 2, maxAbsDiff: 0.5, latencyDeltaSumUs: 500 - 10 });
    const families = metricFamilies(new Map([['shadow-divergence', state]]), 0);
    expect(families.find((f) => f.name === 'gpuflow_shadow_output_max_abs_diff')?.samples).toEqual([{ labels: { model: 'm', version: '3' }, value: 0.5 }]);
    const hist = families.find((f) => f.name === 'gpuflow_shadow_latency_delta_us')!.samples;
    expect(hist.find((s) => s.labels.le === '0')?.value).toBe(1); // b: -10 µs
    expect(hist.find((s) => s.labels.le === '1000')?.value).toBe(2); // a: +500 µs
    expect(hist.find((s) => s.metricName === 'gpuflow_shadow_latency_delta_us_count')?.value).toBe(2);
  });

  it('does not compare two answers of the same side', () => {
    const events = [result('a', '1', [1], 0), result('a', '1', [1], 0)].map((value) => ({ kind: 'shadow' as const, value }));
    expect([...fold(shadowDivergenceProjection, events).keys()].some((k) => k.startsWith('model/'))).toBe(false);
  });
});
