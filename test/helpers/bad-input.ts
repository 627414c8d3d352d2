/**
 * Bad input for inference.requests, built on purpose: raw bytes that are not a request at all
 * (they must reach inference.requests.dlq with the reason), and well-framed requests whose content
 * is wrong (they must be answered REJECTED with the reason). Tensors are written with the
 * generated FlatBuffers API directly, so shapes the encoder would refuse can be sent.
 */
import * as flatbuffers from 'flatbuffers';
import fc from 'fast-check';
import type { Heartbeat, InferenceRequest } from '../../src/domain/events/index.js';
import type { TopicCodec } from '../../src/kafka/codecs/topic-codec.js';
import { encodeTensor } from '../../src/kafka/codecs/tensor-codec.js';
import { Tensor as FbTensor } from '../../src/kafka/codecs/fb/tensor.js';
import { DEMO_MANIFEST } from '../../src/services/manifests.js';

/** What a piece of bad input is, for counting; one per line of the report. */
export const BAD_KINDS = [
  'malformed Avro',
  'unknown schema id',
  'another record',
  'truncated FlatBuffers',
  'absurd shape',
  'oversize payload',
  'unknown model',
  'unknown tenant',
  'deadline in the past',
  'unanswerable request',
] as const;
export type BadKind = (typeof BAD_KINDS)[number];

/**
 * Where a case must end: on the dead-letter topic, answered REJECTED on its reply topic, or (fuzzed
 * requests that may happen to be valid) answered once, OK or REJECTED.
 */
export type Fate = 'dead-letter' | 'rejected' | 'answered';

export interface BadCase {
  name: string;
  kind: BadKind;
  fate: Fate;
  /** What the reason must say. */
  reason: RegExp;
  /** The message key, unique per case: it is kept on a dead letter, so it names the case there. */
  key: string;
  value: Buffer | null;
  /** For cases answered on a reply topic. */
  requestId?: string;
}

/** The codecs and ids the corpus is framed with, from the live registry. */
export interface Framing {
  requests: TopicCodec<InferenceRequest>;
  requestSchemaId: number;
  heartbeats: TopicCodec<Heartbeat>;
  replyTo: string;
}

/** A FlatBuffers tensor with exactly these fields, valid or not. */
export function rawTensor(fields: { dtype: number; shape: readonly bigint[]; data: Uint8Array; identifier?: boolean }): Uint8Array {
  const builder = new flatbuffers.Builder(fields.data.byteLength + 256);
  const data = FbTensor.createDataVector(builder, fields.data);
  const shape = FbTensor.createShapeVector(builder, [...fields.shape]);
  FbTensor.startTensor(builder);
  FbTensor.addDtype(builder, fields.dtype);
  FbTensor.addShape(builder, shape);
  FbTensor.addData(builder, data);
  builder.finish(FbTensor.endTensor(builder), fields.identifier === false ? undefined : 'GFTN');
  return builder.asUint8Array();
}

const WIDTH = DEMO_MANIFEST.inputShape[0]!;
const FP32 = 0;

/** A tensor the demo model takes: FP32 [1, 64]. */
export function goodTensor(): Uint8Array {
  return encodeTensor({ dtype: 'FP32', shape: [1, WIDTH], data: new Uint8Array(WIDTH * 4) });
}

/** A request for the demo model that is right in every field but those overridden. */
export function request(id: string, framing: Framing, overrides: Partial<InferenceRequest> = {}): InferenceRequest {
  const now = Date.now();
  return {
    requestId: id, model: DEMO_MANIFEST.model, modelVersion: '', tenant: 'acme', sloClass: 'batch',
    deadlineMs: now + 20_000, submittedAtMs: now, replyTo: framing.replyTo, traceparent: '', tensor: goodTensor(), ...overrides,
  };
}

const framed = (schemaId: number, body: Uint8Array): Buffer => {
  const header = Buffer.alloc(5);
  header.writeInt32BE(schemaId, 1);
  return Buffer.concat([header, body]);
};

/** The fixed corpus: one or more cases of each kind, `run` making keys and ids unique to this run. */
export async function corpus(run: string, framing: Framing): Promise<BadCase[]> {
  const id = (n: string): string => `${run}-${n}`;
  const envelope = (n: string, overrides: Partial<InferenceRequest>): Buffer => framing.requests.encode(request(id(n), framing, overrides));
  const valid = await envelope('template', {});
  const heartbeat = await framing.heartbeats.encode({
    workerId: 'not-a-request', epoch: 1, node: 'n', timestampMs: Date.now(), devices: [], loadedModels: [], inFlightBatches: 0, capacity: 1,
  });
  const dead = (n: string, kind: BadKind, reason: RegExp, value: Buffer | null): BadCase => ({ name: n, kind, fate: 'dead-letter', reason, key: id(n), value });
  const rejected = async (n: string, kind: BadKind, reason: RegExp, overrides: Partial<InferenceRequest>): Promise<BadCase> => ({
    name: n, kind, fate: 'rejected', reason, key: id(n), value: await envelope(n, overrides), requestId: id(n),
  });
  const tensor = (dtype: number, shape: bigint[], bytes: number): Uint8Array => rawTensor({ dtype, shape, data: new Uint8Array(bytes) });
  const good = goodTensor();
  return [
    dead('empty value', 'malformed Avro', /empty message value/, null),
    dead('not framed', 'malformed Avro', /not Confluent-framed/, Buffer.from('{"requestId":"json, not avro"}')),
    dead('framed garbage', 'malformed Avro', /does not match schema id/, framed(framing.requestSchemaId, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))),
    dead('truncated Avro', 'malformed Avro', /does not match schema id/, valid.subarray(0, Math.floor(valid.length / 2))),
    dead('unknown schema id', 'unknown schema id', /unknown schema id 987654321/, framed(987_654_321, valid.subarray(5))),
    dead('a heartbeat', 'another record', /is io\.gpuflow\.\w+, expected io\.gpuflow\.InferenceRequest/, heartbeat),
    await rejected('truncated tensor', 'truncated FlatBuffers', /bad input tensor/, { tensor: good.subarray(0, Math.floor(good.length * 0.6)) }),
    await rejected('tensor header only', 'truncated FlatBuffers', /bad input tensor/, { tensor: good.subarray(0, 6) }),
    await rejected('tensor of random bytes', 'truncated FlatBuffers', /bad input tensor/, { tensor: Uint8Array.from({ length: 300 }, (_, i) => (i * 73) % 256) }),
    await rejected('no identifier', 'truncated FlatBuffers', /bad input tensor.*identifier/, { tensor: rawTensor({ dtype: FP32, shape: [1n, 64n], data: new Uint8Array(256), identifier: false }) }),
    await rejected('unknown dtype', 'absurd shape', /bad input tensor.*dtype/, { tensor: tensor(99, [1n, 64n], 256) }),
    await rejected('negative dimension', 'absurd shape', /bad input tensor.*dimension -64/, { tensor: tensor(FP32, [1n, -64n], 256) }),
    await rejected('zero dimension', 'absurd shape', /does not match mlp-small/, { tensor: tensor(FP32, [0n, 64n], 0) }),
    await rejected('zero rank', 'absurd shape', /bad input tensor.*rank 0/, { tensor: tensor(FP32, [], 0) }),
    await rejected('rank 9', 'absurd shape', /bad input tensor.*rank 9/, { tensor: tensor(FP32, Array.from({ length: 9 }, () => 1n), 4) }),
    await rejected('huge dimensions', 'absurd shape', /bad input tensor.*exceeds/, { tensor: tensor(FP32, [65_536n, 65_536n, 65_536n], 256) }),
    await rejected('dimension beyond 2^53', 'absurd shape', /bad input tensor.*out of range/, { tensor: tensor(FP32, [1n, 2n ** 60n], 256) }),
    await rejected('bytes short of the shape', 'absurd shape', /needs 256 bytes, got 100/, { tensor: tensor(FP32, [1n, 64n], 100) }),
    await rejected('wrong dtype', 'absurd shape', /does not match mlp-small/, { tensor: tensor(2, [1n, 64n], 256) }),
    await rejected('a batch in one request', 'absurd shape', /does not match mlp-small/, { tensor: tensor(FP32, [8n, 64n], 8 * 256) }),
    await rejected('6 MiB tensor', 'oversize payload', /does not match mlp-small/, { tensor: tensor(FP32, [1n, 1_572_864n], 6 * 2 ** 20) }),
    await rejected('6 MiB for an unknown model', 'oversize payload', /no manifest for model/, { model: `no-such-model-${run}`, tensor: tensor(FP32, [1n, 1_572_864n], 6 * 2 ** 20) }),
    await rejected('unknown model', 'unknown model', /no manifest for model no-such-model/, { model: `no-such-model-${run}` }),
    await rejected('unknown model version', 'unknown model', /no manifest for model mlp-small version 999/, { modelVersion: '999' }),
    await rejected('empty tenant', 'unknown tenant', /tenant/, { tenant: '' }),
    await rejected('tenant with control characters', 'unknown tenant', /tenant/, { tenant: 'acme\u0000\n' }),
    await rejected('deadline a second ago', 'deadline in the past', /deadline/, { deadlineMs: Date.now() - 1_000 }),
    await rejected('deadline at the epoch', 'deadline in the past', /deadline/, { deadlineMs: 0 }),
    await rejected('negative deadline', 'deadline in the past', /deadline/, { deadlineMs: -1 }),
    dead('empty request id', 'unanswerable request', /request id/, await framing.requests.encode(request('', framing))),
    dead('reply topic that does not exist', 'unanswerable request', /reply topic/, await envelope('no-reply', { replyTo: `no-such-topic-${run}` })),
  ];
}

/** A fuzzed case: which generator made it, and how to build its bytes. */
export interface FuzzCase {
  generator: 'raw bytes' | 'framed noise' | 'mutated tensor' | 'fuzzed shape' | 'fuzzed fields';
  build(id: string, framing: Framing): Promise<BadCase>;
}

const anyFate = /./;

/** Bytes that are not a request: they must be dead-lettered (noise that happens to decode is answered instead). */
const rawBytes = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((bytes): FuzzCase => ({
  generator: 'raw bytes',
  build: async (id) => ({ name: 'raw bytes', kind: 'malformed Avro', fate: 'dead-letter', reason: anyFate, key: id, value: Buffer.from(bytes) }),
}));

const framedNoise = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((bytes): FuzzCase => ({
  generator: 'framed noise',
  build: async (id, framing) => ({ name: 'framed noise', kind: 'malformed Avro', fate: 'dead-letter', reason: anyFate, key: id, value: framed(framing.requestSchemaId, bytes) }),
}));

/** A valid tensor cut short or with bytes overwritten: rejected, or served if the damage happens to be harmless. */
const mutatedTensor = fc
  .record({ cut: fc.option(fc.nat(), { nil: undefined }), flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }) })
  .map(({ cut, flips }): FuzzCase => ({
    generator: 'mutated tensor',
    build: async (id, framing) => {
      const bytes = Uint8Array.from(goodTensor());
      for (const [at, value] of flips) bytes[at % bytes.length] = value;
      const tensor = cut === undefined ? bytes : bytes.subarray(0, cut % bytes.length);
      return { name: 'mutated tensor', kind: 'truncated FlatBuffers', fate: 'answered', reason: anyFate, key: id, value: await framing.requests.encode(request(id, framing, { tensor })), requestId: id };
    },
  }));

const dimension = fc.oneof(fc.constantFrom(0n, 1n, 64n, -1n, 2n ** 31n, 2n ** 62n), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
const fuzzedShape = fc
  .record({ dtype: fc.integer({ min: 0, max: 8 }), shape: fc.array(dimension, { maxLength: 10 }), bytes: fc.nat({ max: 4096 }) })
  .map(({ dtype, shape, bytes }): FuzzCase => ({
    generator: 'fuzzed shape',
    build: async (id, framing) => ({
      name: 'fuzzed shape', kind: 'absurd shape', fate: 'answered', reason: anyFate, key: id,
      value: await framing.requests.encode(request(id, framing, { tensor: rawTensor({ dtype, shape, data: new Uint8Array(bytes) }) })), requestId: id,
    }),
  }));

/** Any model name, tenant and deadline (past, now, far future) on an otherwise valid request. */
const fuzzedFields = fc
  .record({
    model: fc.oneof(fc.constant(DEMO_MANIFEST.model), fc.string({ maxLength: 40 })),
    modelVersion: fc.oneof(fc.constant(''), fc.string({ maxLength: 8 })),
    tenant: fc.oneof(fc.constantFrom('acme', 'globex'), fc.string({ maxLength: 80 })),
    deadlineOffsetMs: fc.oneof(fc.integer({ min: -1_000_000_000, max: 0 }), fc.integer({ min: 5_000, max: 20_000 })),
    sloClass: fc.constantFrom('realtime', 'interactive', 'batch' as const),
  })
  .map((f): FuzzCase => ({
    generator: 'fuzzed fields',
    build: async (id, framing) => ({
      name: 'fuzzed fields', kind: 'unknown model', fate: 'answered', reason: anyFate, key: id,
      value: await framing.requests.encode(request(id, framing, { model: f.model, modelVersion: f.modelVersion, tenant: f.tenant, sloClass: f.sloClass, deadlineMs: Date.now() + f.deadlineOffsetMs })),
      requestId: id,
    }),
  }));

/** Every generator, equally likely. */
export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof(rawBytes, framedNoise, mutatedTensor, fuzzedShape, fuzzedFields);
