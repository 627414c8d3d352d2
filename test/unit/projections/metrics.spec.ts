import { describe, expect, it } from 'vitest';
import { PROJECTIONS } from '../../../src/projections/index.js';
import { metricFamilies, type MetricFamily } from '../../../src/projections/metrics.js';
import { fold, type Docs } from '../../../src/projections/projection.js';
import type { ProjectedEvent } from '../../../src/projections/events.js';
import { alert, batchDone, batchFormed, heartbeat, request, result, sample } from './events.js';

const statesOf = (events: ProjectedEvent[]): Map<string, Docs> => new Map(PROJECTIONS.map((p) => [p.name, fold(p, events)]));
const byName = (families: MetricFamily[], name: string): MetricFamily => {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`no family ${name}`);
  return f;
};

describe('metric families from the read models', () => {
  const events = [
    sample(0, 10), heartbeat(0, 1, 9_000), heartbeat(1, 1, 1_000), request(0), request(1), request(2), batchFormed([0, 1]), batchFormed([2]),
    result(0, 'OK', 10), result(1, 'REJECTED', 10), batchDone(0, 2), alert(0, true, 20),
  ];
  const families = metricFamilies(statesOf(events), 10_000);

  it('exports DCGM GPU metrics in the exporter\'s units and labels', () => {
    const used = byName(families, 'DCGM_FI_DEV_FB_USED');
    expect(used.type).toBe('gauge');
    expect(used.samples).toEqual([
      { labels: { gpu: 0, UUID: 'GPU-0', pci_bus_id: '0000:00:00.0', device: 'nvidia0', modelName: 'H100 (simulated)', Hostname: 'n1' }, value: 10 * 1024 },
    ]);
    expect(byName(families, 'DCGM_FI_DEV_FB_FREE').samples[0]!.value).toBe(70 * 1024);
    for (const name of ['DCGM_FI_DEV_GPU_UTIL', 'DCGM_FI_DEV_GPU_TEMP', 'DCGM_FI_DEV_POWER_USAGE', 'DCGM_FI_DEV_SM_CLOCK']) expect(byName(families, name).samples).toHaveLength(1);
  });

  it('exports Triton inference counters per model and version', () => {
    const value = (name: string) => byName(families, name).samples.find((s) => s.labels.model === 'm0' && s.labels.version === '1')?.value;
    expect(value('nv_inference_request_success')).toBe(1);
    expect(value('nv_inference_request_failure')).toBe(1);
    expect(value('nv_inference_exec_count')).toBe(1);
    expect(value('nv_inference_count')).toBe(2);
    expect(value('nv_inference_queue_duration_us')).toBe(0);
    expect(value('nv_inference_compute_infer_duration_us')).toBe(60);
  });

  it('exports the batch size histogram with cumulative buckets', () => {
    const h = byName(families, 'gpuflow_batch_size');
    const bucket = (le: string) => h.samples.find((s) => s.metricName === 'gpuflow_batch_size_bucket' && s.labels.le === le)!.value;
    expect([bucket('1'), bucket('2'), bucket('4'), bucket('+Inf')]).toEqual([1, 2, 2, 2]);
    expect(h.samples.find((s) => s.metricName === 'gpuflow_batch_size_sum')!.value).toBe(3);
  });

  it('exports workers by liveness, queue depth, SLO attainment and active alerts', () => {
    const workers = Object.fromEntries(byName(families, 'gpuflow_workers').samples.map((s) => [s.labels.state, s.value]));
    expect(workers).toEqual({ up: 1, stale: 1, evicted: 0 });
    expect(byName(families, 'gpuflow_queue_depth').samples.reduce((s, x) => s + x.value, 0)).toBe(0);
    expect(byName(families, 'gpuflow_rejections_total').samples.reduce((s, x) => s + x.value, 0)).toBe(1);
    expect(byName(families, 'gpuflow_anomaly_alert_active').samples).toEqual([{ labels: { UUID: 'GPU-0', kind: 'OOM_RISK' }, value: 1 }]);
    expect(byName(families, 'gpuflow_anomaly_predicted_time_to_oom_seconds').samples[0]!.value).toBe(20);
    const attainment = byName(families, 'gpuflow_slo_attainment_ratio').samples;
    expect(attainment.every((s) => s.value >= 0 && s.value <= 1)).toBe(true);
  });

  it('names every family once, with the gpuflow_ prefix unless it follows Triton or DCGM', () => {
    const names = families.map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(/^(nv_inference_|DCGM_FI_DEV_|gpuflow_)/.test(n)).toBe(true);
  });
});
