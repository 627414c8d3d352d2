import { readFileSync } from 'node:fs';
import avro from 'avsc';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError, ValidationError } from '../../../src/domain/errors.js';
import { AVRO_EVENTS, readAvroSchema } from '../../../src/kafka/codecs/avro-events.js';
import { batchAddress, decodeBatch, encodeBatch } from '../../../src/kafka/codecs/batch-codec.js';
import { manifestDefaults } from '../../../src/domain/events/manifest.js';
import { float32View } from '../../../src/domain/events/tensor.js';
import { decodeTensor, encodeTensor, reusingTensorEncoder, rowEncoder } from '../../../src/kafka/codecs/tensor-codec.js';
import { goldenBatch, goldenRequest, goldenSchedulerEvent, goldenTensorData } from '../../helpers/golden-events.js';

const golden = (name: string): Buffer => Buffer.from(readFileSync(`test/fixtures/golden/${name}`, 'utf8').replace(/\s+/g, ''), 'hex');
const avroType = (name: keyof typeof AVRO_EVENTS) => avro.Type.forSchema(JSON.parse(readAvroSchema(name)));

describe('Avro event mappings (golden bytes)', () => {
  it('encodes an InferenceRequest to the committed bytes and back', () => {
    const type = avroType('inference-request');
    const bytes = type.toBuffer(AVRO_EVENTS['inference-request'].toAvro(goldenRequest));
    expect(bytes.equals(golden('inference-request.avro.hex'))).toBe(true);
    const back = AVRO_EVENTS['inference-request'].fromAvro(type.fromBuffer(bytes));
    expect({ ...back, tensor: [...back.tensor] }).toEqual({ ...goldenRequest, tensor: [...goldenRequest.tensor] });
  });

  it('maps the scheduler tagged union onto an Avro union of records and back', () => {
    const type = avroType('scheduler-event');
    const bytes = type.toBuffer(AVRO_EVENTS['scheduler-event'].toAvro(goldenSchedulerEvent));
    expect(bytes.equals(golden('scheduler-event.avro.hex'))).toBe(true);
    expect(AVRO_EVENTS['scheduler-event'].fromAvro(type.fromBuffer(bytes))).toEqual(goldenSchedulerEvent);
  });

  it('reads a RequestRejected written before leavesBatch existed as leaving its batch (looked up, as then)', () => {
    const current = JSON.parse(readAvroSchema('scheduler-event'));
    const older = structuredClone(current);
    const branch = older.fields[0].type.find((t: { name: string }) => t.name === 'RequestRejected');
    branch.fields = branch.fields.filter((f: { name: string }) => f.name !== 'leavesBatch');
    const writer = avro.Type.forSchema(older);
    const reader = avro.Type.forSchema(current);
    const { leavesBatch: _, ...written } = { type: 'RequestRejected' as const, atMs: 5, inputs: ['x'], requestId: 'r', model: 'm', tenant: 't', reason: 'late', leavesBatch: false };
    const bytes = writer.toBuffer(AVRO_EVENTS['scheduler-event'].toAvro(written as never));
    const read = AVRO_EVENTS['scheduler-event'].fromAvro(reader.fromBuffer(bytes, reader.createResolver(writer)));
    expect(read).toEqual({ ...written, leavesBatch: true });
  });

  it('maps manifest executors that Avro enum symbols cannot spell', () => {
    const type = avroType('model-manifest');
    const manifest = {
      model: 'm', version: '1', executor: 'kserve-v2' as const, weightsUri: 'http://127.0.0.1:8080', inputShape: [4],
      dtype: 'FP32' as const, memoryPerSampleBytes: 16, maxBatchSize: 8, preferredBatchSizes: [4, 8], maxQueueDelayMs: 5, commit: 'abc',
    };
    expect(AVRO_EVENTS['model-manifest'].fromAvro(type.fromBuffer(type.toBuffer(AVRO_EVENTS['model-manifest'].toAvro(manifest))))).toEqual(manifestDefaults(manifest));
  });
});

describe('FlatBuffers tensor and batch codecs', () => {
  it('encodes a tensor to the committed bytes', () => {
    expect(Buffer.from(encodeTensor({ dtype: 'FP32', shape: [2, 3], data: goldenTensorData })).equals(golden('tensor.fb.hex'))).toBe(true);
  });

  it('encodes a batch to the committed bytes and decodes it as a view, not a copy', () => {
    const bytes = golden('batch.fb.hex');
    expect(Buffer.from(encodeBatch(goldenBatch)).equals(bytes)).toBe(true);
    const batch = decodeBatch(bytes);
    expect(batch.members.map((m) => m.requestId)).toEqual(['r1', 'r2']);
    expect(batch.shape).toEqual([2, 3]);
    expect(batch.data.buffer).toBe(bytes.buffer);
    expect(batch.data.byteOffset).toBeGreaterThanOrEqual(bytes.byteOffset);
    expect([...float32View(batch)]).toEqual([0.5, -1, 2.25, 3, 4.5, -6]);
  });

  it('keeps batch data 64-byte aligned inside the encoded message', () => {
    const bytes = encodeBatch(goldenBatch);
    expect((decodeBatch(bytes).data.byteOffset - bytes.byteOffset) % 64).toBe(0);
  });

  it('refuses shapes that do not match the data, negative or huge dimensions', () => {
    const data = new Uint8Array(24);
    expect(() => encodeTensor({ dtype: 'FP32', shape: [2, 4], data })).toThrow(ValidationError);
    expect(() => encodeTensor({ dtype: 'FP32', shape: [-2, -3], data })).toThrow(/non-negative/);
    expect(() => encodeTensor({ dtype: 'FP32', shape: [2 ** 20, 2 ** 20], data })).toThrow(/exceeds/);
    expect(() => encodeTensor({ dtype: 'FP32', shape: [], data })).toThrow(/rank/);
  });

  it('answers every truncation or corruption of a batch with DecodeError or ValidationError, never a crash', () => {
    const bytes = encodeBatch(goldenBatch);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }), (cut, at, value) => {
        const corrupt = Uint8Array.from(bytes.subarray(0, Math.max(cut, at + 1)));
        corrupt[at] = value;
        try {
          decodeBatch(corrupt.subarray(0, cut));
        } catch (error) {
          expect(error instanceof DecodeError || error instanceof ValidationError).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a message that is not a batch at all', () => {
    expect(() => decodeBatch(new Uint8Array([1, 2, 3]))).toThrow(DecodeError);
    expect(() => decodeBatch(encodeTensor({ dtype: 'UINT8', shape: [4], data: new Uint8Array(4) }))).toThrow(/identifier/);
  });
});

describe('batch address', () => {
  it('reads the worker and epoch a batch is for, as a full decode does', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 0, max: 2 ** 52 }), (workerId, workerEpoch) => {
        const bytes = encodeBatch({ ...goldenBatch, workerId, workerEpoch });
        const full = decodeBatch(bytes);
        expect(batchAddress(bytes)).toEqual({ workerId: full.workerId, workerEpoch: full.workerEpoch });
        expect(batchAddress(bytes)).toEqual({ workerId, workerEpoch });
      }),
    );
  });

  it('refuses what is not a batch', () => {
    expect(() => batchAddress(new Uint8Array([1, 2, 3]))).toThrow(DecodeError);
    expect(() => batchAddress(encodeTensor({ dtype: 'UINT8', shape: [4], data: new Uint8Array(4) }))).toThrow(/identifier/);
  });
});

describe('tensor encoders for hot paths', () => {
  const dims = fc.record({ rows: fc.integer({ min: 1, max: 6 }), cols: fc.integer({ min: 0, max: 9 }) });

  it('rowEncoder gives each row the bytes encodeTensor gives it', () => {
    fc.assert(
      fc.property(dims, fc.integer(), ({ rows, cols }, seed) => {
        const data = Uint8Array.from({ length: rows * cols * 4 }, (_, i) => (i * 31 + seed) & 0xff);
        const outputs = rowEncoder({ dtype: 'FP32', shape: [rows, cols], data });
        expect(outputs.rows).toBe(rows);
        for (let i = rows - 1; i >= 0; i--) {
          const own = encodeTensor({ dtype: 'FP32', shape: [1, cols], data: data.subarray(i * cols * 4, (i + 1) * cols * 4) });
          expect(Buffer.from(outputs.row(i)).equals(Buffer.from(own))).toBe(true);
        }
        expect(() => outputs.row(rows)).toThrow(ValidationError);
      }),
    );
  });

  it('a reusing encoder gives encodeTensor bytes, for tensors of any size in turn', () => {
    const encode = reusingTensorEncoder();
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 8 }), (sizes) => {
        for (const n of sizes) {
          const tensor = { dtype: 'UINT8' as const, shape: [n], data: Uint8Array.from({ length: n }, (_, i) => i & 0xff) };
          const bytes = encode(tensor);
          expect(Buffer.from(bytes).equals(Buffer.from(encodeTensor(tensor)))).toBe(true);
          expect(decodeTensor(bytes).data.byteOffset % 16).toBe(0);
        }
      }),
    );
  });
});
