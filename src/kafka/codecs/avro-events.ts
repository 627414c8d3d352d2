/**
 * How each control event maps onto its Avro schema (schemas/*.avsc). Most map one to one;
 * the few differences are Avro's rules: enum symbols cannot hold '-', bytes arrive as Buffer,
 * and tagged unions (scheduler events, worker reports) become Avro unions of records.
 */
import { readFileSync } from 'node:fs';
import { ValidationError } from '../../domain/errors.js';
import type {
  AnomalyAlert,
  DeadLetter,
  GpuSample,
  Heartbeat,
  InferenceRequest,
  InferenceResult,
  ModelManifest,
  SchedulerEvent,
  WorkerReport,
} from '../../domain/events/index.js';
import { projectPath } from '../../paths.js';

export interface AvroMapping<T> {
  /** File name under schemas/, without .avsc. */
  schema: string;
  toAvro(value: T): unknown;
  fromAvro(record: unknown): T;
}

const identity = <T>(schema: string): AvroMapping<T> => ({
  schema,
  toAvro: (v) => withBuffers(v),
  fromAvro: (r) => plain(r) as T,
});

/** avsc writes `bytes` only from Buffer; events carry Uint8Array, wrapped here without copying. */
function withBuffers(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  const fields = value as Record<string, unknown>;
  let out: Record<string, unknown> | null = null;
  for (const k in fields) {
    const v = fields[k];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) (out ??= { ...fields })[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return out ?? value;
}

/** avsc decodes records as class instances; events are plain objects. */
function plain(record: unknown): unknown {
  return record && typeof record === 'object' && !Buffer.isBuffer(record) && !Array.isArray(record) ? { ...(record as object) } : record;
}

/** A tagged union ({ type, ...fields }) as an Avro record holding a union of records named after the tags. */
function taggedUnion<T extends { type: string }>(schema: string, field: string, namespace: string): AvroMapping<T> {
  const prefix = `${namespace}.`;
  return {
    schema,
    toAvro: (e) => {
      const { type, ...fields } = e;
      return { [field]: { [prefix + type]: withBuffers(fields) } };
    },
    fromAvro: (r) => {
      const wrapped = (r as Record<string, Record<string, unknown>>)[field] ?? {};
      const [name, fields] = Object.entries(wrapped)[0] ?? [];
      if (!name?.startsWith(prefix)) throw new ValidationError(`unknown ${schema} branch ${String(name)}`);
      return { type: name.slice(prefix.length), ...(fields as object) } as T;
    },
  };
}

export const AVRO_EVENTS = {
  'inference-request': identity<InferenceRequest>('inference-request'),
  'inference-result': identity<InferenceResult>('inference-result'),
  'gpu-sample': identity<GpuSample>('gpu-sample'),
  heartbeat: identity<Heartbeat>('heartbeat'),
  'anomaly-alert': identity<AnomalyAlert>('anomaly-alert'),
  'dead-letter': identity<DeadLetter>('dead-letter'),
  'model-manifest': {
    schema: 'model-manifest',
    toAvro: (m: ModelManifest) => ({ ...m, executor: m.executor.replace('-', '_') }),
    fromAvro: (r: unknown) => {
      const m = plain(r) as ModelManifest;
      return { ...m, executor: m.executor.replace('_', '-') as ModelManifest['executor'] };
    },
  } satisfies AvroMapping<ModelManifest>,
  'scheduler-event': taggedUnion<SchedulerEvent>('scheduler-event', 'event', 'io.gpuflow.scheduler'),
  'worker-report': taggedUnion<WorkerReport>('worker-report', 'report', 'io.gpuflow.worker'),
} as const;

export type AvroEventName = keyof typeof AVRO_EVENTS;
export type AvroEventOf<N extends AvroEventName> = ReturnType<(typeof AVRO_EVENTS)[N]['fromAvro']>;

export function isAvroEventName(name: string): name is AvroEventName {
  return Object.hasOwn(AVRO_EVENTS, name);
}

/** The schema text as committed in schemas/NAME.avsc. */
export function readAvroSchema(name: string): string {
  return readFileSync(projectPath('schemas', `${name}.avsc`), 'utf8');
}
