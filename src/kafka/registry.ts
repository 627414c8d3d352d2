/**
 * The schema registry edge: Confluent wire framing (magic byte + schema id) through
 * @kafkajs/confluent-schema-registry, and subject administration over the Confluent REST API,
 * which any compatible registry (Confluent, Apicurio's ccompat/v7) answers.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { DecodeError, GpuflowError, SchemaIncompatibleError } from '../domain/errors.js';

export type Compatibility = 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FULL' | 'NONE';

export interface RegistryClient {
  /** Registers `schema` under `subject` with the given compatibility; returns its id. */
  register(subject: string, schema: string, compatibility?: Compatibility): Promise<number>;
  /** Asks whether `schema` could be registered, without registering it. */
  isCompatible(subject: string, schema: string): Promise<{ compatible: boolean; reason: string }>;
  latestId(subject: string): Promise<number | null>;
  encode(id: number, value: unknown): Promise<Buffer>;
  decode(framed: Buffer): Promise<unknown>;
  /** The full Avro name (namespace.Name) of the schema with this id. */
  schemaName(id: number): Promise<string>;
  /** Reads the schema id from a framed message without decoding it. */
  schemaIdOf(framed: Buffer): number;
  /**
   * The schema with this id as a synchronous codec, for hot paths: the same bytes and values as
   * `encode(id, v)` and `decode` give, without their promise and buffer concatenation per message.
   */
  framedCodec(id: number): Promise<FramedCodec>;
}

/** Encodes values as Confluent-framed Avro of one schema id, and decodes messages framed with it. */
export interface FramedCodec {
  encode(value: unknown): Buffer;
  decode(framed: Buffer): unknown;
}

/** What avsc's Type offers that a framed codec uses. */
interface AvroType {
  encode(value: unknown, buffer: Buffer, position: number): number;
  decode(buffer: Buffer, position: number): { value: unknown; offset: number };
}

/** Room for one encoded value; a larger one is encoded into a buffer of its own size. */
const SCRATCH_BYTES = 64 * 1024;

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export function createRegistryClient(baseUrl: string): RegistryClient {
  const root = baseUrl.replace(/\/+$/, '');
  const lib = new SchemaRegistry({ host: root });

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    let response: Response;
    try {
      response = await fetch(`${root}${path}`, {
        method,
        headers: { 'Content-Type': CONTENT_TYPE, Accept: CONTENT_TYPE },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (cause) {
      throw new GpuflowError(`schema registry at ${root} is unreachable`, { cause, retriable: true });
    }
    const text = await response.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { message: text };
    }
    return { status: response.status, json };
  }

  const reasonOf = (json: any): string =>
    [json?.message, ...(Array.isArray(json?.messages) ? json.messages : [])].filter(Boolean).join('; ') || JSON.stringify(json);

  return {
    async register(subject, schema, compatibility = 'BACKWARD') {
      const s = encodeURIComponent(subject);
      let config = await call('PUT', `/config/${s}`, { compatibility });
      // Registrations of a new subject from several processes at once race to create its rule; the
      // ones that lose are told it exists (409), and setting it again updates it.
      for (let retry = 0; config.status === 409 && retry < 3; retry++) config = await call('PUT', `/config/${s}`, { compatibility });
      if (config.status >= 300) throw new GpuflowError(`registry refused compatibility ${compatibility} for ${subject}: ${reasonOf(config.json)}`);
      const created = await call('POST', `/subjects/${s}/versions`, { schema });
      // The refusal's own words (Apicurio's compatibility check answers only a boolean).
      if (created.status === 409) throw new SchemaIncompatibleError(subject, reasonOf(created.json));
      if (created.status >= 300 || typeof created.json?.id !== 'number') {
        throw new GpuflowError(`registry refused schema for ${subject} (HTTP ${created.status}): ${reasonOf(created.json)}`);
      }
      return created.json.id as number;
    },
    async isCompatible(subject, schema) {
      const res = await call('POST', `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`, { schema });
      if (res.status === 404) return { compatible: true, reason: 'no earlier version' };
      if (res.status >= 300) throw new GpuflowError(`registry compatibility check for ${subject} failed (HTTP ${res.status}): ${reasonOf(res.json)}`);
      const compatible = res.json?.is_compatible === true;
      return { compatible, reason: compatible ? 'compatible' : reasonOf(res.json) };
    },
    async latestId(subject) {
      const res = await call('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
      return res.status === 200 && typeof res.json?.id === 'number' ? (res.json.id as number) : null;
    },
    encode: (id, value) => lib.encode(id, value),
    async decode(framed) {
      const id = this.schemaIdOf(framed);
      try {
        return await lib.decode(framed);
      } catch (cause) {
        const unknown = (cause as { status?: number }).status === 404;
        throw new DecodeError(unknown ? `unknown schema id ${id}` : `Avro payload does not match schema id ${id}`, { cause });
      }
    },
    async schemaName(id) {
      try {
        const type = (await lib.getSchema(id)) as { name?: string };
        return type.name ?? '';
      } catch (cause) {
        throw new DecodeError(`unknown schema id ${id}`, { cause });
      }
    },
    async framedCodec(id) {
      const type = (await lib.getSchema(id)) as unknown as AvroType;
      let scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
      const fail = (cause?: unknown): never => {
        throw new DecodeError(`Avro payload does not match schema id ${id}`, cause === undefined ? {} : { cause });
      };
      return {
        encode(value) {
          let end = type.encode(value, scratch, 5);
          // avsc answers a negative position, less the bytes that were missing, when the value does not fit.
          if (end < 0) {
            scratch = Buffer.allocUnsafe(Math.max(scratch.length * 2, scratch.length - end));
            end = type.encode(value, scratch, 5);
          }
          const out = Buffer.allocUnsafe(end);
          scratch.copy(out, 5, 5, end);
          out[0] = 0;
          out.writeInt32BE(id, 1);
          return out;
        },
        decode(framed) {
          if (framed.length < 5 || framed[0] !== 0 || framed.readInt32BE(1) !== id) fail();
          let read: { value: unknown; offset: number };
          try {
            read = type.decode(framed, 5);
          } catch (cause) {
            return fail(cause);
          }
          // The whole message is one value (a truncated one reads as offset -1), as `decode` requires.
          if (read.offset !== framed.length) fail();
          return read.value;
        },
      };
    },
    schemaIdOf(framed) {
      if (framed.length < 5 || framed[0] !== 0) throw new DecodeError('not Confluent-framed Avro (magic byte 0 and a 4-byte schema id expected)');
      return framed.readInt32BE(1);
    },
  };
}
