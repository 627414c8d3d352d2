import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { InferenceRequest } from '../../../src/domain/events/request.js';
import type { Tensor } from '../../../src/domain/events/tensor.js';
import { createRequestCompactor } from '../../../src/processors/batching/compact-request.js';

const decoded = (id: string, tenant: string): InferenceRequest => ({
  // Built from pieces, as a decoder builds each string afresh.
  requestId: id, model: ['mlp', 'small'].join('-'), modelVersion: '', tenant: [tenant].join(''), sloClass: 'batch', deadlineMs: 1_000,
  submittedAtMs: 10, replyTo: ['inference', 'results'].join('.'), traceparent: '', tensor: new Uint8Array([1, 2, 3]),
});

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);

const row = (fill: number, bytes = 256, shape: readonly number[] = [1, bytes / 4]): Tensor => ({ dtype: 'FP32', shape: [...shape], data: new Uint8Array(bytes).fill(fill) });

describe('createRequestCompactor', () => {
  it('keeps every field but the tensor bytes, and shares repeated strings between requests', () => {
    const compact = createRequestCompactor();
    const a = compact.request(decoded('r1', 'acme'));
    const b = compact.request(decoded('r2', 'acme'));
    expect(a).toEqual({ ...decoded('r1', 'acme'), tensor: new Uint8Array(0) });
    expect(b.requestId).toBe('r2');
    // One string object for the model, tenant and reply topic of both (the same reference).
    expect(Object.is(a.model, b.model) && Object.is(a.tenant, b.tenant) && Object.is(a.replyTo, b.replyTo)).toBe(true);
  });

  it('packs rows into shared slabs and reads each back unchanged, whatever their sizes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 6_000 }), { minLength: 1, maxLength: 60 }), (sizes) => {
        const compact = createRequestCompactor(4_096);
        const rows = sizes.map((bytes, i) => {
          const source = new Uint8Array(bytes).map((_, j) => (i * 31 + j) % 251);
          return { source, packed: compact.tensor({ dtype: 'UINT8', shape: [1, bytes], data: source }) };
        });
        for (const { source, packed } of rows) {
          expect(sameBytes(packed.data, source)).toBe(true);
          expect(packed.shape).toEqual([1, source.byteLength]);
          expect(packed.dtype).toBe('UINT8');
        }
      }),
    );
  });

  it('copies the bytes: the buffer they came in may be reused', () => {
    const compact = createRequestCompactor();
    const view = row(7);
    const packed = compact.tensor(view);
    view.data.fill(0);
    expect(packed.data.every((b) => b === 7)).toBe(true);
    expect(packed.data.byteLength).toBe(256);
  });

  it('puts small rows of one layout in one slab and shares their shape', () => {
    const compact = createRequestCompactor();
    const a = compact.tensor(row(1));
    const b = compact.tensor(row(2));
    expect(a.data.buffer).toBe(b.data.buffer);
    expect(a.shape).toBe(b.shape);
    const other = compact.tensor(row(3, 256, [2, 32]));
    expect(other.shape).toEqual([2, 32]);
    expect(other.data.every((x) => x === 3)).toBe(true);
  });

  it('holds a request as one object whose row reads back its bytes and whose ack releases its offset', () => {
    const compact = createRequestCompactor();
    const released: number[] = [];
    const acks = { release: (offset: number) => released.push(offset) };
    const request = compact.request(decoded('r1', 'acme'));
    const packed = compact.tensor(row(9));
    const held = compact.held(request, packed, acks, 41, 'span-1');
    // The held object is the request: every field of it, its own (a spread copies them all).
    expect(held.request).toBe(held);
    expect({ ...held, layout: undefined, slab: undefined, at: undefined, acks: undefined, offset: undefined, span: undefined }).toEqual({
      ...request, layout: undefined, slab: undefined, at: undefined, acks: undefined, offset: undefined, span: undefined,
    });
    expect(Object.is(held.model, request.model) && Object.is(held.tenant, request.tenant)).toBe(true);
    expect(held.span).toBe('span-1');
    // The row is the one packed before, not a second copy.
    expect(held.row.data.buffer).toBe(packed.data.buffer);
    expect(held.row.data.byteOffset).toBe(packed.data.byteOffset);
    expect(held.row.shape).toEqual([1, 64]);
    const ack = held.ack;
    ack();
    held.ack();
    expect(released).toEqual([41, 41]);
    // A tensor not packed yet is packed on the way in.
    const loose = compact.held(request, row(5), acks, 42, null);
    expect(sameBytes(loose.row.data, new Uint8Array(256).fill(5))).toBe(true);
  });
});
