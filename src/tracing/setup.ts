/**
 * Tracing for a gpuflow process: OpenTelemetry's Node SDK, configured by the standard OTEL_*
 * environment variables (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME,
 * OTEL_TRACES_SAMPLER, ...). It is off unless the environment asks for an exporter: then the SDK
 * is not even loaded, spans are the API's no-op ones and no trace header is written, so an
 * untraced deployment pays nothing. Only traces are set up here; metrics go through /metrics.
 *
 * Every service calls `startTracing` when it starts; the first call in a process decides, later
 * ones share its result. A process that registered its own tracer provider (an application that
 * embeds the client) keeps it: gpuflow's spans then go to that provider.
 */
import { context, propagation, ProxyTracerProvider, trace } from '@opentelemetry/api';
import type { tracing } from '@opentelemetry/sdk-node';

export interface TracingOptions {
  /** service.name of this process unless OTEL_SERVICE_NAME names it. */
  serviceName: string;
  /** Where spans go instead of the exporters the environment names (tests, embedding). */
  spanProcessors?: tracing.SpanProcessor[];
}

export interface Tracing {
  /** Whether spans are recorded and exported by a provider. */
  readonly enabled: boolean;
  /** Exports the spans ended so far (a process calls it before it exits). */
  flush(): Promise<void>;
  /** Flushes and unregisters what this module started; a later `startTracing` starts afresh. */
  shutdown(): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Whether the environment asks for traces: an exporter named (other than none), or an OTLP endpoint given. */
export function tracingRequested(env: Env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (exporters.includes('none')) return false;
  return exporters.length > 0 || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** The delegate of a tracer provider nobody registered: the API's no-op. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/** The registered provider, or null while there is none. */
function registeredProvider(): { forceFlush?: () => Promise<void> } | null {
  const global = trace.getTracerProvider();
  const delegate = global instanceof ProxyTracerProvider ? global.getDelegate() : global;
  return delegate === NOOP_PROVIDER ? null : (delegate as { forceFlush?: () => Promise<void> });
}

const flushRegistered = async (): Promise<void> => {
  await registeredProvider()?.forceFlush?.();
};

const DISABLED: Tracing = { enabled: false, flush: async () => undefined, shutdown: async () => undefined };
const EXTERNAL: Tracing = { enabled: true, flush: flushRegistered, shutdown: flushRegistered };

let started: Promise<Tracing> | null = null;

/** Starts tracing for this process once; returns the handle every later call gets too. */
export function startTracing(options: TracingOptions, env: Env = process.env): Promise<Tracing> {
  started ??= start(options, env);
  return started;
}

async function start(options: TracingOptions, env: Env): Promise<Tracing> {
  if (registeredProvider()) return EXTERNAL;
  if (!options.spanProcessors && !tracingRequested(env)) return DISABLED;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: options.serviceName }),
    ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    // Traces only: metrics are served on /metrics, logs are JSON lines.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  return {
    enabled: true,
    flush: flushRegistered,
    async shutdown() {
      await sdk.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
      started = null;
    },
  };
}
