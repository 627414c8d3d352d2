/**
 * The safetensors format (an 8-byte little-endian header length, a JSON header, then one
 * byte buffer), read strictly: every tensor's dtype, shape and offsets must agree, the
 * buffer must be covered exactly with no gaps or overlaps, and nothing may point past the
 * end. Anything else is a SafetensorsError saying what is wrong, never a half-loaded model.
 */
import { SafetensorsError } from './errors.js';

export const SAFETENSORS_DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;

export type SafetensorsDType = keyof typeof SAFETENSORS_DTYPE_BYTES;

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  /** A view into the file's bytes, not a copy. */
  data: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** Headers above this are refused before parsing (the reference implementation uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_BYTES, value);
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.byteLength < 8) throw new SafetensorsError(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`header length ${headerLength} exceeds ${MAX_HEADER_BYTES} bytes`);
  const headerBytes = Number(headerLength);
  if (8 + headerBytes > bytes.byteLength) {
    throw new SafetensorsError(`header says ${headerBytes} bytes but only ${bytes.byteLength - 8} follow: file truncated`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerBytes)));
  } catch (cause) {
    throw new SafetensorsError('header is not valid UTF-8 JSON', { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new SafetensorsError('header is not a JSON object');
  const data = bytes.subarray(8 + headerBytes);
  const tensors = new Map<string, SafetensorsTensor>();
  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new SafetensorsError('__metadata__ is not an object');
      for (const [key, value] of Object.entries(entry)) {
        if (typeof value !== 'string') throw new SafetensorsError(`__metadata__.${key} is not a string`);
        metadata[key] = value;
      }
      continue;
    }
    if (typeof entry !== 'object' || entry === null) throw new SafetensorsError(`tensor '${name}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (!isDType(dtype)) throw new SafetensorsError(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isIndex)) throw new SafetensorsError(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
      throw new SafetensorsError(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) throw new SafetensorsError(`tensor '${name}' has data_offsets [${begin}, ${end}] that run backwards`);
    if (end > data.byteLength) {
      throw new SafetensorsError(`tensor '${name}' ends at byte ${end} of a ${data.byteLength}-byte buffer: file truncated`);
    }
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * SAFETENSORS_DTYPE_BYTES[dtype];
    if (end - begin !== expected) {
      throw new SafetensorsError(`tensor '${name}' of ${dtype}[${(shape as number[]).join(', ')}] needs ${expected} bytes, offsets give ${end - begin}`);
    }
    spans.push({ name, begin, end });
    tensors.set(name, { dtype, shape: [...(shape as number[])], data: data.subarray(begin, end) });
  }
  spans.sort((x, y) => x.begin - y.begin || x.end - y.end);
  let cursor = 0;
  for (const span of spans) {
    if (span.begin < cursor) throw new SafetensorsError(`tensor '${span.name}' overlaps the tensor before it`);
    if (span.begin > cursor) throw new SafetensorsError(`bytes ${cursor}..${span.begin} before tensor '${span.name}' belong to no tensor`);
    cursor = span.end;
  }
  if (cursor !== data.byteLength) throw new SafetensorsError(`${data.byteLength - cursor} trailing bytes belong to no tensor`);
  return { tensors, metadata };
}

/** A tensor's F32 contents as a Float32Array (copied when the view is not 4-byte aligned). */
export function float32Of(file: SafetensorsFile, name: string): { shape: number[]; values: Float32Array } {
  const tensor = file.tensors.get(name);
  if (!tensor) throw new SafetensorsError(`tensor '${name}' is missing`);
  if (tensor.dtype !== 'F32') throw new SafetensorsError(`tensor '${name}' is ${tensor.dtype}, expected F32`);
  const { data } = tensor;
  const values =
    data.byteOffset % 4 === 0
      ? new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4)
      : new Float32Array(data.slice().buffer);
  return { shape: tensor.shape, values };
}

/** Writes F32 tensors in safetensors format, header padded with spaces to an 8-byte boundary. */
export function encodeSafetensors(
  tensors: ReadonlyArray<{ name: string; shape: readonly number[]; values: Float32Array }>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const elements = t.shape.reduce((a, b) => a * b, 1);
    if (elements !== t.values.length) throw new RangeError(`tensor '${t.name}': shape [${t.shape.join(', ')}] holds ${elements} values, got ${t.values.length}`);
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + t.values.byteLength] };
    offset += t.values.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let cursor = 8 + headerBytes.byteLength;
  for (const t of tensors) {
    out.set(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength), cursor);
    cursor += t.values.byteLength;
  }
  return out;
}
