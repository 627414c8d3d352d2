/**
 * The trace context at the Kafka edge: W3C `traceparent` (and `tracestate`) written into message
 * headers by whoever produces, and read back by whoever consumes, through the propagator the SDK
 * registered. With tracing off no propagator is registered and nothing is written.
 *
 * Events also carry a traceparent field of their own (a request's, and each batch member's), so
 * a context survives where headers do not (a batch holds many requests; tools that copy values
 * only); a consumer falls back to it when the headers have none.
 */
import { isSpanContextValid, propagation, ROOT_CONTEXT, trace, type Context, type Span, type TextMapGetter } from '@opentelemetry/api';

/** Kafka header values as the client library delivers them. */
export type MessageHeaders = Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;

const headerGetter: TextMapGetter<MessageHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const value = carrier[key];
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.map((v) => v.toString()) : value.toString();
  },
};

/** Headers that carry `ctx` to the consumer; undefined when there is nothing to carry. */
export function traceHeaders(ctx: Context): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/** The producer's context from a message's headers, else from the event's own traceparent field. */
export function contextFromHeaders(headers: MessageHeaders, fallbackTraceparent = ''): Context {
  const fromHeaders = propagation.extract(ROOT_CONTEXT, headers, headerGetter);
  if (trace.getSpanContext(fromHeaders) || fallbackTraceparent === '') return fromHeaders;
  return contextFromTraceparent(fallbackTraceparent);
}

/** The context a W3C traceparent names ('' or a malformed one: the root context). */
export function contextFromTraceparent(traceparent: string): Context {
  return traceparent === '' ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, { traceparent }, headerGetter);
}

/** A span's W3C traceparent (ended or not), for the traceparent fields of events; undefined for a no-op span. */
export function traceparentOf(span: Span): string | undefined {
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}
