/**
 * The Kubernetes manifests under deploy/k8s parse, and agree with each other and with what the
 * projector exports: the HPA scales the worker Deployment on the metric the adapter serves, which
 * is the gauge the projector's /metrics has, selected by a label that gauge carries.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { metricFamilies } from '../../../src/projections/metrics.js';
import { fold } from '../../../src/projections/projection.js';
import { PROJECTIONS } from '../../../src/projections/index.js';
import { request } from '../projections/events.js';

const DIR = 'deploy/k8s';
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown>; data?: Record<string, string> };
const objects: Obj[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((doc) => {
      expect(doc.errors, f).toEqual([]);
      return doc.toJS() as Obj;
    }),
  );
const one = (kind: string): Obj => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('parse, and each names its kind, API version, name and namespace', () => {
    expect(objects.length).toBeGreaterThanOrEqual(4);
    for (const o of objects) {
      expect(o.apiVersion, JSON.stringify(o.metadata)).toMatch(/^[a-z.]*\/?v\d/);
      expect(o.metadata.name).toMatch(/^[a-z0-9-]+$/);
      expect(o.metadata.namespace).toBeTruthy();
    }
  });

  it('scale the worker Deployment with an autoscaling/v2 HPA on the external gpuflow_desired_workers metric', () => {
    const deployment = one('Deployment');
    const hpa = one('HorizontalPodAutoscaler');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.metadata.namespace).toBe(deployment.metadata.namespace);
    const spec = hpa.spec as { scaleTargetRef: { kind: string; name: string }; minReplicas: number; maxReplicas: number; metrics: { type: string; external: { metric: { name: string; selector: { matchLabels: Record<string, string> } }; target: { type: string; averageValue: string } } }[] };
    expect(spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(spec.minReplicas).toBeLessThanOrEqual(spec.maxReplicas);
    const [metric] = spec.metrics;
    expect(metric!.type).toBe('External');
    expect(metric!.external.target).toEqual({ type: 'AverageValue', averageValue: '1' });
    // The projector exports that gauge, with the label the HPA selects by.
    const families = metricFamilies(new Map(PROJECTIONS.map((p) => [p.name, fold(p, [request(0)])])), 0);
    const gauge = families.find((f) => f.name === metric!.external.metric.name);
    expect(gauge?.type).toBe('gauge');
    for (const label of Object.keys(metric!.external.metric.selector.matchLabels)) expect(Object.keys(gauge!.samples[0]!.labels)).toContain(label);
    // The worker container runs `gpuflow worker` with a GPU.
    const container = (deployment.spec as { template: { spec: { containers: { command: string[]; resources: { limits: Record<string, unknown> } }[] } } }).template.spec.containers[0]!;
    expect(container.command).toContain('worker');
    expect(container.resources.limits['nvidia.com/gpu']).toBe(1);
  });

  it('give prometheus-adapter an external rule that serves the metric by that name', () => {
    const adapter = objects.find((o) => o.kind === 'ConfigMap' && o.data?.['config.yaml'] !== undefined)!;
    const config = parse(adapter.data!['config.yaml']!) as { externalRules: { seriesQuery: string; name: { as: string }; metricsQuery: string }[] };
    const hpa = one('HorizontalPodAutoscaler').spec as { metrics: { external: { metric: { name: string } } }[] };
    const rule = config.externalRules.find((r) => r.name.as === hpa.metrics[0]!.external.metric.name);
    expect(rule).toBeDefined();
    expect(rule!.seriesQuery).toContain('gpuflow_desired_workers');
    expect(rule!.metricsQuery).toContain('<<.Series>>{<<.LabelMatchers>>}');
  });
});
