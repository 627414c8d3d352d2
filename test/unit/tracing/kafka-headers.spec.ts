import { propagation, ROOT_CONTEXT, trace, TraceFlags, type SpanContext } from '@opentelemetry/api';
import { core } from '@opentelemetry/sdk-node';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { contextFromHeaders, contextFromTraceparent, traceHeaders, traceparentOf } from '../../../src/tracing/kafka-headers.js';

const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length }).filter((s) => /[1-9a-f]/.test(s));
const arbSpanContext: fc.Arbitrary<SpanContext> = fc.record({
  traceId: hex(32),
  spanId: hex(16),
  traceFlags: fc.constantFrom(TraceFlags.NONE, TraceFlags.SAMPLED),
  isRemote: fc.constant(true),
});
const withSpan = (sc: SpanContext) => trace.setSpanContext(ROOT_CONTEXT, sc);
const usePropagator = () => propagation.setGlobalPropagator(new core.W3CTraceContextPropagator());

afterEach(() => propagation.disable());

describe('trace context in Kafka headers', () => {
  it('writes nothing while tracing is off (no propagator registered)', () => {
    const sc = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };
    expect(traceHeaders(withSpan(sc))).toBeUndefined();
    expect(trace.getSpanContext(contextFromHeaders({ traceparent: `00-${sc.traceId}-${sc.spanId}-01` }))).toBeUndefined();
  });

  it('round-trips any span context through headers, as strings or as the Buffers the consumer delivers', () => {
    usePropagator();
    fc.assert(
      fc.property(arbSpanContext, (sc) => {
        const headers = traceHeaders(withSpan(sc))!;
        expect(headers.traceparent).toBe(`00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags}`);
        const asBuffers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]));
        for (const carrier of [headers, asBuffers]) expect(trace.getSpanContext(contextFromHeaders(carrier))).toEqual(sc);
      }),
    );
  });

  it('falls back to the event\'s own traceparent field when the headers carry none', () => {
    usePropagator();
    const field = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect(trace.getSpanContext(contextFromHeaders({}, field))).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', isRemote: true });
    // Headers win over the field.
    const header = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(trace.getSpanContext(contextFromHeaders({ traceparent: header }, field))?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    // Nothing, or nothing valid: the root context (a new trace starts there).
    expect(contextFromHeaders({}, '')).toBe(ROOT_CONTEXT);
    expect(trace.getSpanContext(contextFromTraceparent('00-zz-00f067aa0ba902b7-01'))).toBeUndefined();
    expect(trace.getSpanContext(contextFromTraceparent(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`))).toBeUndefined();
  });

  it('formats a span\'s traceparent for event fields, and none for a no-op span', () => {
    fc.assert(
      fc.property(arbSpanContext, (sc) => {
        expect(traceparentOf(trace.wrapSpanContext(sc))).toBe(`00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags}`);
      }),
    );
    expect(traceparentOf(trace.getTracer('t').startSpan('x'))).toBeUndefined();
  });
});
