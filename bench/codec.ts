/**
 * Codec benchmark. Headline: reading a batch of 256 tensors of 1×3×224×224 float32 out of one
 * FlatBuffers message (a view per tensor, no copy) against JSON of the same data, which is what a
 * user would otherwise send. One JSON document per tensor: the whole batch as one JSON string
 * (~2.5 GB) is past V8's maximum string length. Also reported: the Avro request envelope (with
 * registry framing) encode+decode against JSON.
 */
import avro from 'avsc';
import { seededRandom } from '../src/domain/random.js';
import type { Batch, InferenceRequest } from '../src/domain/events/index.js';
import { AVRO_EVENTS, readAvroSchema } from '../src/kafka/codecs/avro-events.js';
import { decodeBatch, encodeBatch } from '../src/kafka/codecs/batch-codec.js';
import { float32View } from '../src/domain/events/tensor.js';
import { encodeTensor } from '../src/kafka/codecs/tensor-codec.js';
import { row, type BenchRow } from './result.js';

const N = 256;
const SAMPLE = [1, 3, 224, 224];
const ELEMENTS = SAMPLE.reduce((a, b) => a * b, 1);

/** Best of `reps` timings of `fn`, in ms (best-of resists noise from other load on a shared machine). */
function bestMs(reps: number, fn: () => unknown): number {
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

export async function run(): Promise<BenchRow[]> {
  const random = seededRandom(7);
  const pixels = new Float32Array(N * ELEMENTS);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (random.int(0, 255) / 255 - 0.45) / 0.225;
  const batch: Batch = {
    batchId: 'bench', model: 'resnet50', modelVersion: '1', workerId: 'w', workerEpoch: 1, deviceUuid: 'GPU-bench', formedAtMs: 0,
    members: Array.from({ length: N }, (_, i) => ({ requestId: `r${i}`, tenant: 't', sloClass: 'batch', deadlineMs: 0, submittedAtMs: 0, replyTo: 'inference.results', traceparent: '' })),
    dtype: 'FP32', shape: [N, ...SAMPLE.slice(1)], data: new Uint8Array(pixels.buffer),
  };
  const message = Buffer.from(encodeBatch(batch));
  let checksum = 0;
  const oursMs = bestMs(20, () => {
    const decoded = decodeBatch(message);
    const all = float32View(decoded);
    for (let i = 0; i < N; i++) checksum += all.subarray(i * ELEMENTS, (i + 1) * ELEMENTS)[0]!;
  });
  const jsonDocs = Array.from({ length: N }, (_, i) => JSON.stringify({ requestId: `r${i}`, shape: SAMPLE, data: Array.from(pixels.subarray(i * ELEMENTS, (i + 1) * ELEMENTS)) }));
  const jsonMs = bestMs(3, () => {
    for (const doc of jsonDocs) checksum += Float32Array.from((JSON.parse(doc) as { data: number[] }).data)[0]!;
  });
  const jsonBytes = jsonDocs.reduce((a, d) => a + d.length, 0);

  // Avro envelope: one request carrying one 1×3×224×224 tensor, framed as the registry client does.
  const type = avro.Type.forSchema(JSON.parse(readAvroSchema('inference-request')));
  const request: InferenceRequest = {
    requestId: 'r', model: 'resnet50', modelVersion: '1', tenant: 'acme', sloClass: 'interactive', deadlineMs: 1, submittedAtMs: 0,
    replyTo: 'inference.results', traceparent: '', tensor: encodeTensor({ dtype: 'FP32', shape: SAMPLE, data: new Uint8Array(pixels.buffer, 0, ELEMENTS * 4) }),
  };
  const header = Buffer.from([0, 0, 0, 0, 1]);
  const reps = 200;
  const avroMs = bestMs(5, () => {
    for (let i = 0; i < reps; i++) {
      const framed = Buffer.concat([header, type.toBuffer(AVRO_EVENTS['inference-request'].toAvro(request))]);
      checksum += (type.fromBuffer(framed.subarray(5)) as InferenceRequest).tensor.length;
    }
  }) / reps;
  const jsonEnvMs = bestMs(5, () => {
    for (let i = 0; i < reps; i++) {
      const text = JSON.stringify({ ...request, tensor: Buffer.from(request.tensor).toString('base64') });
      checksum += Buffer.from((JSON.parse(text) as { tensor: string }).tensor, 'base64').length;
    }
  }) / reps;
  if (!Number.isFinite(checksum)) throw new Error('checksum lost');

  return [
    row({
      name: 'batch-decode-256x1x3x224x224-fp32',
      unit: 'ms per batch',
      ours: Number(oursMs.toFixed(4)),
      baseline: { name: 'JSON.parse + Float32Array.from, one document per tensor', value: Number(jsonMs.toFixed(1)) },
      higherIsBetter: false,
      headline: true,
      params: { tensors: N, shape: SAMPLE, dtype: 'FP32', flatbufferBytes: message.length, jsonBytes, target: 'ratio >= 20' },
    }),
    row({
      name: 'request-envelope-encode-decode',
      unit: 'ms per request',
      ours: Number(avroMs.toFixed(4)),
      baseline: { name: 'JSON with base64 tensor', value: Number(jsonEnvMs.toFixed(4)) },
      higherIsBetter: false,
      params: { tensor: SAMPLE, note: 'Avro body plus the 5-byte Confluent header; schema lookups are cached in production' },
    }),
  ];
}
