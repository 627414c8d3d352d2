/**
 * The dashboards against a real Prometheus: the projector folds a run of traffic and serves
 * /metrics, the stack's Prometheus (Debian package) scrapes it, and every PromQL expression of
 * every dashboard in deploy/grafana/dashboards must return data. Each metric a dashboard names
 * must also have been scraped during this test, so stale series of an earlier run prove nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { metricFamilies } from '../../src/projections/metrics.js';
import { startProjector, type ProjectorHandle } from '../../src/services/projector.js';
import { produceTraffic } from '../helpers/projection-traffic.js';
import { testConfig, testKafka, testLogger, uniqueName, waitFor } from '../helpers/kafka.js';
import { traffic } from '../unit/projections/events.js';

interface Panel { title: string; datasource?: { uid?: string }; targets?: { expr: string; datasource?: { uid?: string } }[] }
interface Dashboard { uid: string; title: string; panels: Panel[] }

const DASHBOARDS = 'deploy/grafana/dashboards';
const dashboards: [string, Dashboard][] = readdirSync(DASHBOARDS)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8')) as Dashboard]);
const expressions = dashboards.flatMap(([file, d]) => d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ file, panel: p.title, expr: t.expr }))));

const run = uniqueName('it-prom');
const started = Date.now() / 1000;
let redis: Redis;
let projector: ProjectorHandle;


async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const url = `${inject('gpuflowStack').prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`;
  const body = (await (await fetch(url)).json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  return body.data.result;
}

beforeAll(async () => {
  redis = new Redis(testConfig().redisUrl);
  const topicPrefix = `${run}.`;
  const ends = await produceTraffic(topicPrefix, traffic(600, Date.now()));
  projector = await startProjector(testKafka(), createRegistryClient(testConfig().schemaRegistryUrl), redis, testLogger(), {
    groupId: run, prefix: run, topicPrefix, metricsPort: testConfig().metricsPort,
  });
  await waitFor('the projector to reach the end of the log', () => [...ends].every(([p, end]) => BigInt(projector.store.offsets.get(p) ?? '0') >= BigInt(end)) || undefined, 60_000);
});

afterAll(async () => {
  await projector?.stop();
  const keys = await redis.keys(`${run}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

describe('Grafana dashboards on the real Prometheus', () => {
  it('name the provisioned Prometheus data source in every panel and target', () => {
    const provisioning = readFileSync('deploy/grafana/provisioning/datasources/prometheus.yml', 'utf8');
    const uid = /^\s*uid:\s*(\S+)/m.exec(provisioning)?.[1];
    expect(uid).toBeTruthy();
    expect(dashboards.map(([f]) => f).sort()).toEqual(['anomalies.json', 'gpus.json', 'overview.json', 'scheduler.json', 'tenants-slos.json']);
    for (const [, d] of dashboards) {
      for (const p of d.panels) {
        expect(p.datasource?.uid, `${d.title} / ${p.title}`).toBe(uid);
        for (const t of p.targets ?? []) expect(t.datasource?.uid, `${d.title} / ${p.title}`).toBe(uid);
      }
    }
    expect(new Set(dashboards.map(([, d]) => d.uid)).size).toBe(dashboards.length);
  });

  it('every metric the dashboards use is exported and was scraped during this test', async () => {
    const exported = new Set(metricFamilies(new Map(), 0).flatMap((f) => (f.type === 'histogram' ? [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`] : [f.name])));
    const used = new Set(expressions.flatMap(({ expr }) => expr.match(/\b(?:nv_inference|DCGM_FI_DEV|gpuflow)_[A-Za-z0-9_]+/g) ?? []));
    for (const name of used) expect(exported.has(name), name).toBe(true);
    await waitFor('Prometheus to scrape the projector', async () => ((await query('up{job="gpuflow"}'))[0]?.value[1] === '1' ? true : undefined), 30_000, 500);
    for (const name of used) {
      await waitFor(`a fresh sample of ${name}`, async () => {
        const [fresh] = await query(`max(timestamp(${name}))`);
        return fresh && Number(fresh.value[1]) >= started ? true : undefined;
      }, 30_000, 500);
    }
  });

  it('every PromQL expression in every dashboard returns data', async () => {
    // Rates over [1m] need two scrapes of the same series; scrapes come every second.
    await waitFor('two scrapes of the request counters', async () => {
      const [n] = await query('count_over_time(nv_inference_request_success[1m])');
      return n && Number(n.value[1]) >= 3 ? true : undefined;
    }, 30_000, 500);
    const empty: string[] = [];
    for (const { file, panel, expr } of expressions) if ((await query(expr)).length === 0) empty.push(`${file} / ${panel}: ${expr}`);
    expect(empty).toEqual([]);
    expect(expressions.length).toBeGreaterThan(30);
  });
});
