import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../../../src/gpu/errors.js';
import { decodeMlp, encodeMlp, randomMlp } from '../../../src/gpu/mlp.js';
import { decodeSafetensors, encodeSafetensors, float32Of } from '../../../src/gpu/safetensors.js';

/** Builds a file from a raw header object and a data section, for malformed cases. */
function file(header: unknown, data: Uint8Array, headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

describe('safetensors', () => {
  it('round-trips F32 tensors with metadata, header aligned to 8 bytes', () => {
    const bytes = encodeSafetensors(
      [
        { name: 'a', shape: [2, 3], values: Float32Array.from([1, 2, 3, 4, 5, 6]) },
        { name: 'b', shape: [1], values: Float32Array.from([-0.5]) },
      ],
      { note: 'x' },
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLength) % 8).toBe(0);
    const decoded = decodeSafetensors(bytes);
    expect(decoded.metadata).toEqual({ note: 'x' });
    expect(Array.from(float32Of(decoded, 'a').values)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(float32Of(decoded, 'a').shape).toEqual([2, 3]);
    expect(Array.from(float32Of(decoded, 'b').values)).toEqual([-0.5]);
  });

  it('reads the committed fixture as an MLP 64→128→10', async () => {
    const { readFileSync } = await import('node:fs');
    const mlp = decodeMlp(new Uint8Array(readFileSync('test/fixtures/models/mlp-64-128-10.safetensors')));
    expect(mlp.layers.map((l) => [l.inFeatures, l.outFeatures])).toEqual([
      [64, 128],
      [128, 10],
    ]);
    // The fixture is what the generator writes for these sizes and seed.
    expect(Array.from(mlp.layers[1]!.bias)).toEqual(Array.from(randomMlp([64, 128, 10], 42).layers[1]!.bias));
  });

  const data = new Uint8Array(8);
  const ok = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  it.each([
    ['shorter than 8 bytes', new Uint8Array(4), /shorter than the 8-byte/],
    ['header length past the end', file(ok, data, 10_000), /truncated/],
    ['absurd header length', file(ok, data, 2 ** 40), /exceeds/],
    ['header not JSON', (() => { const f = file(ok, data); f[8] = 0x7b; f[9] = 0x7b; return f; })(), /not valid UTF-8 JSON/],
    ['header an array', file([1, 2], data), /not a JSON object/],
    ['unknown dtype', file({ t: { dtype: 'F8', shape: [2], data_offsets: [0, 8] } }, data), /unknown dtype/],
    ['negative dimension', file({ t: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, data), /invalid shape/],
    ['offsets backwards', file({ t: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, data), /backwards/],
    ['tensor past the data', file({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data), /truncated/],
    ['size disagrees with shape', file({ t: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data), /needs 12 bytes/],
    ['overlap', file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data), /overlaps/],
    ['gap', file({ t: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data), /belong to no tensor/],
    ['trailing bytes', file({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, data), /trailing/],
    ['metadata not strings', file({ __metadata__: { n: 1 }, ...ok }, data), /not a string/],
  ])('refuses a file with %s', (_name, bytes, message) => {
    expect(() => decodeSafetensors(bytes)).toThrow(SafetensorsError);
    expect(() => decodeSafetensors(bytes)).toThrow(message);
  });

  it('refuses MLP files whose layers do not chain or whose bias is wrong', () => {
    const chain = encodeSafetensors([
      { name: 'layers.0.weight', shape: [3, 2], values: new Float32Array(6) },
      { name: 'layers.0.bias', shape: [3], values: new Float32Array(3) },
      { name: 'layers.1.weight', shape: [1, 4], values: new Float32Array(4) },
      { name: 'layers.1.bias', shape: [1], values: new Float32Array(1) },
    ]);
    expect(() => decodeMlp(chain)).toThrow(/takes 4 features but layers.0 gives 3/);
    const bias = encodeSafetensors([
      { name: 'layers.0.weight', shape: [3, 2], values: new Float32Array(6) },
      { name: 'layers.0.bias', shape: [2], values: new Float32Array(2) },
    ]);
    expect(() => decodeMlp(bias)).toThrow(/expected \[3\]/);
    expect(() => decodeMlp(encodeSafetensors([{ name: 'w', shape: [1], values: new Float32Array(1) }]))).toThrow(/not an MLP/);
  });

  it('any truncation of a valid file is a SafetensorsError, never a partial model', () => {
    const bytes = encodeMlp(randomMlp([4, 3, 2], 1));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.byteLength - 1 }), (cut) => {
        expect(() => decodeMlp(bytes.subarray(0, cut))).toThrow(SafetensorsError);
      }),
    );
  });

  it('decodes what it encodes for any shapes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 2, maxLength: 4 }), fc.integer(), (sizes, seed) => {
        const mlp = randomMlp(sizes, seed);
        const back = decodeMlp(encodeMlp(mlp));
        expect(back.layers.length).toBe(mlp.layers.length);
        back.layers.forEach((l, i) => {
          expect(Array.from(l.weight)).toEqual(Array.from(mlp.layers[i]!.weight));
          expect(Array.from(l.bias)).toEqual(Array.from(mlp.layers[i]!.bias));
        });
      }),
      { numRuns: 50 },
    );
  });
});
