/**
 * Serves the read models as Prometheus metrics on /metrics through a prom-client Registry.
 * The families come from `metricFamilies` at scrape time: the values are the projections'
 * totals, which prom-client's own Counter and Histogram (built to be incremented) cannot be set
 * to, so each family is registered as a collector object that prom-client formats like its own.
 */
import { createServer, type Server } from 'node:http';
import client, { type Metric, type Registry } from 'prom-client';
import { GpuflowError } from '../domain/errors.js';
import { metricFamilies, type MetricFamily, type ProjectionStates } from './metrics.js';

export class MetricsServerError extends GpuflowError {}

export interface MetricsExporter {
  readonly registry: Registry;
  /** The port it listens on (useful when asked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

export interface MetricsExporterOptions {
  port: number;
  host?: string;
  states: () => ProjectionStates;
  now?: () => number;
  /** Registers prom-client's process metrics too (CPU, memory, event loop lag), prefixed gpuflow_projector_. */
  processMetrics?: boolean;
}

export async function startMetricsExporter(options: MetricsExporterOptions): Promise<MetricsExporter> {
  const registry = new client.Registry();
  const now = options.now ?? Date.now;
  // One computation per scrape, shared by all families.
  let cached: { at: number; families: Map<string, MetricFamily> } | null = null;
  const current = (): Map<string, MetricFamily> => {
    const at = now();
    if (!cached || cached.at !== at) cached = { at, families: new Map(metricFamilies(options.states(), at).map((f) => [f.name, f])) };
    return cached.families;
  };
  for (const f of metricFamilies(new Map(), 0)) {
    const collector = {
      name: f.name,
      help: f.help,
      type: f.type,
      get: async () => {
        const fam = current().get(f.name)!;
        return { name: fam.name, help: fam.help, type: fam.type, aggregator: 'sum', values: fam.samples };
      },
    };
    registry.registerMetric(collector as unknown as Metric);
  }
  if (options.processMetrics) client.collectDefaultMetrics({ register: registry, prefix: 'gpuflow_projector_' });

  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    cached = null;
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) => reject(new MetricsServerError(`cannot serve /metrics on ${options.host ?? '0.0.0.0'}:${options.port}`, { cause })));
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  return {
    registry,
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
