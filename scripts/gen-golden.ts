/**
 * Rewrites the golden byte fixtures from the codecs. Run only after a deliberate wire-format
 * change (`npx tsx scripts/gen-golden.ts`), and say so in the commit: the tests exist to catch
 * accidental ones.
 */
import { writeFileSync } from 'node:fs';
import avro from 'avsc';
import { AVRO_EVENTS, readAvroSchema } from '../src/kafka/codecs/avro-events.js';
import { encodeBatch } from '../src/kafka/codecs/batch-codec.js';
import { encodeTensor } from '../src/kafka/codecs/tensor-codec.js';
import { goldenBatch, goldenRequest, goldenSchedulerEvent, goldenTensorData } from '../test/helpers/golden-events.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex').replace(/(.{64})/g, '$1\n').trim() + '\n';
const body = (name: keyof typeof AVRO_EVENTS, value: unknown): Uint8Array =>
  avro.Type.forSchema(JSON.parse(readAvroSchema(name))).toBuffer((AVRO_EVENTS[name].toAvro as (v: unknown) => unknown)(value));

const dir = 'test/fixtures/golden';
writeFileSync(`${dir}/inference-request.avro.hex`, hex(body('inference-request', goldenRequest)));
writeFileSync(`${dir}/scheduler-event.avro.hex`, hex(body('scheduler-event', goldenSchedulerEvent)));
writeFileSync(`${dir}/tensor.fb.hex`, hex(encodeTensor({ dtype: 'FP32', shape: [2, 3], data: goldenTensorData })));
writeFileSync(`${dir}/batch.fb.hex`, hex(encodeBatch(goldenBatch)));
console.log(`golden fixtures written to ${dir}`);
