/**
 * docker-compose.yml cannot be started on the project's machines (no Docker), so it is checked
 * against what `gpuflow stack up` runs: the same versions, the same default ports, every broker
 * setting the local stack writes (less those that depend on where the broker runs), the same
 * Prometheus jobs, and mounts of files that exist.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { projectPath } from '../../../src/paths.js';
import { kafkaNodes, kafkaServerProperties } from '../../../src/stack/kafka.js';
import { DEFAULT_SCRAPE_INTERVAL, prometheusConfig } from '../../../src/stack/prometheus.js';

interface Service {
  image: string;
  ports?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
}
interface ScrapeJob {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  static_configs: { targets: string[] }[];
}

const compose = parse(readFileSync(projectPath('docker-compose.yml'), 'utf8')) as { services: Record<string, Service> };
const service = (name: string): Service => compose.services[name]!;
const config = loadConfig({});
const hostPort = (s: Service): number => Number(s.ports![0]!.split(':')[0]);

/** The uid of every `datasource` object in a dashboard, at any depth. */
function datasourceUids(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(datasourceUids);
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === 'datasource' && value !== null && typeof value === 'object' && 'uid' in value ? [String(value.uid)] : datasourceUids(value));
}

/** Settings that differ on purpose: addresses and paths inside a container, and threads sized for a two-core host. */
const WHERE_IT_RUNS = new Set([
  'controller.quorum.voters', 'listeners', 'advertised.listeners', 'listener.security.protocol.map', 'inter.broker.listener.name',
  'log.dirs', 'num.network.threads', 'num.io.threads', 'num.recovery.threads.per.data.dir', 'log.retention.hours',
]);

describe('docker-compose.yml agrees with the local stack', () => {
  it('runs the same versions on the same default ports', () => {
    expect(service('kafka').image).toBe(`apache/kafka:${config.stack.kafkaVersion}`);
    expect(service('registry').image).toBe(`apicurio/apicurio-registry:${config.stack.apicurioVersion}`);
    expect(hostPort(service('kafka'))).toBe(config.stack.kafkaPort);
    expect(hostPort(service('registry'))).toBe(config.stack.registryPort);
    expect(hostPort(service('redis'))).toBe(config.stack.redisPort);
    expect(hostPort(service('prometheus'))).toBe(config.stack.prometheusPort);
  });

  it('sets every broker setting the local stack writes, to the same value', () => {
    const nodes = kafkaNodes(config);
    const properties = kafkaServerProperties(config, nodes[0]!, nodes)
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const);
    const env = service('kafka').environment!;
    const compared = properties.filter(([key]) => !WHERE_IT_RUNS.has(key));
    expect(compared.length).toBeGreaterThan(10);
    for (const [key, value] of compared) {
      const name = `KAFKA_${key.toUpperCase().replace(/\./g, '_').replace(/-/g, '_')}`;
      expect(env[name] === undefined ? undefined : String(env[name]), `${key} (${name})`).toBe(value);
    }
  });

  it('scrapes gpuflow the way the local stack does', () => {
    const jobsOf = (yaml: string): ScrapeJob[] => (parse(yaml) as { scrape_configs: ScrapeJob[] }).scrape_configs;
    const local = jobsOf(prometheusConfig(config, DEFAULT_SCRAPE_INTERVAL));
    const docker = jobsOf(readFileSync(projectPath('deploy', 'prometheus', 'prometheus.yml'), 'utf8'));
    expect(docker.map((j) => j.job_name)).toEqual(local.map((j) => j.job_name));
    const [mine, theirs] = [local.find((j) => j.job_name === 'gpuflow')!, docker.find((j) => j.job_name === 'gpuflow')!];
    expect(theirs.scrape_interval).toBe(mine.scrape_interval);
    expect(theirs.scrape_timeout).toBe(mine.scrape_timeout);
    expect(theirs.static_configs[0]!.targets).toEqual([`host.docker.internal:${config.metricsPort}`]);
  });

  it('mounts only files and folders that exist, and names the data source the dashboards use', () => {
    const mounts = Object.values(compose.services).flatMap((s) => s.volumes ?? []).filter((v) => v.startsWith('./'));
    expect(mounts.length).toBeGreaterThan(0);
    for (const mount of mounts) expect(existsSync(projectPath(mount.split(':')[0]!)), mount).toBe(true);
    const datasources = parse(readFileSync(projectPath('deploy', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as { datasources: { uid: string; url: string }[] };
    expect(datasources.datasources[0]!.url).toBe('http://prometheus:9090');
    const dir = projectPath('deploy', 'grafana', 'dashboards');
    const named = readdirSync(dir).filter((f) => f.endsWith('.json')).flatMap((f) => datasourceUids(JSON.parse(readFileSync(join(dir, f), 'utf8'))));
    expect(named.length).toBeGreaterThan(0);
    expect(new Set(named)).toEqual(new Set([datasources.datasources[0]!.uid]));
  });
});
