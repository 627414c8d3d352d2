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
}

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
      const config = await call('PUT', `/config/${s}`, { compatibility });
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
    schemaIdOf(framed) {
      if (framed.length < 5 || framed[0] !== 0) throw new DecodeError('not Confluent-framed Avro (magic byte 0 and a 4-byte schema id expected)');
      return framed.readInt32BE(1);
    },
  };
}
