/**
 * FlatBuffers codecs for tensors and batches (schemas/tensor.fbs, schemas/batch.fbs).
 * Decoding never copies tensor data: `data` is a view into the message buffer. JavaScript has
 * no FlatBuffers verifier, so every offset and size is checked here before it is trusted.
 */
import * as flatbuffers from 'flatbuffers';
import { DecodeError, ValidationError } from '../../domain/errors.js';
import { DTYPE_BYTES, type DType, type Tensor } from '../../domain/events/tensor.js';
import { DType as FbDType } from './fb/dtype.js';
import { Tensor as FbTensor } from './fb/tensor.js';

/** Limits that keep an absurd shape from allocating or looping without bound. */
export const TENSOR_LIMITS = { maxRank: 8, maxElements: 2 ** 31 } as const;

const TO_FB: Record<DType, FbDType> = { FP32: FbDType.FP32, FP16: FbDType.FP16, INT32: FbDType.INT32, INT64: FbDType.INT64, UINT8: FbDType.UINT8 };
const FROM_FB = new Map<number, DType>(Object.entries(TO_FB).map(([k, v]) => [v, k as DType]));

export function toFbDType(dtype: DType): FbDType {
  return TO_FB[dtype];
}

export function fromFbDType(value: number): DType {
  const dtype = FROM_FB.get(value);
  if (dtype === undefined) throw new DecodeError(`unknown dtype code ${value}`);
  return dtype;
}

/** Checks that a shape is sane and that `byteLength` is exactly what it needs. */
export function validateShape(dtype: DType, shape: readonly number[], byteLength: number): void {
  if (shape.length === 0 || shape.length > TENSOR_LIMITS.maxRank) {
    throw new ValidationError(`tensor rank ${shape.length} outside 1..${TENSOR_LIMITS.maxRank}`);
  }
  let elements = 1;
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) throw new ValidationError(`tensor dimension ${dim} is not a non-negative integer`);
    elements *= dim;
    if (elements > TENSOR_LIMITS.maxElements) throw new ValidationError(`tensor shape [${shape.join(', ')}] exceeds ${TENSOR_LIMITS.maxElements} elements`);
  }
  const expected = elements * DTYPE_BYTES[dtype];
  if (expected !== byteLength) {
    throw new ValidationError(`tensor shape [${shape.join(', ')}] ${dtype} needs ${expected} bytes, got ${byteLength}`);
  }
}

/**
 * Writes a byte vector whose first byte is aligned to `alignment` from the end of the buffer;
 * with the builder's final alignment that makes it aligned from the start too.
 */
export function createAlignedBytes(builder: flatbuffers.Builder, data: Uint8Array, alignment: number): flatbuffers.Offset {
  builder.prep(alignment, data.length);
  return builder.createByteVector(data);
}

/** Builder capacity rounded to 64 so that end-relative alignment is also absolute in its buffer. */
export function builderFor(payloadBytes: number): flatbuffers.Builder {
  return new flatbuffers.Builder(Math.ceil((payloadBytes + 256) / 64) * 64);
}

export function createShape(builder: flatbuffers.Builder, shape: readonly number[]): flatbuffers.Offset {
  return FbTensor.createShapeVector(builder, shape.map((d) => BigInt(d)));
}

export function encodeTensor(tensor: Tensor): Uint8Array {
  return writeTensor(builderFor(tensor.data.byteLength), tensor);
}

/**
 * encodeTensor with one builder for every call: each answer is a view that the next call
 * overwrites, for encoding a tensor into its message at once without a buffer of its own each time.
 */
export function reusingTensorEncoder(): (tensor: Tensor) => Uint8Array {
  const builder = builderFor(0);
  return (tensor) => {
    builder.clear();
    return writeTensor(builder, tensor);
  };
}

function writeTensor(builder: flatbuffers.Builder, tensor: Tensor): Uint8Array {
  validateShape(tensor.dtype, tensor.shape, tensor.data.byteLength);
  const data = createAlignedBytes(builder, tensor.data, 16);
  const shape = createShape(builder, tensor.shape);
  FbTensor.startTensor(builder);
  FbTensor.addDtype(builder, toFbDType(tensor.dtype));
  FbTensor.addShape(builder, shape);
  FbTensor.addData(builder, data);
  builder.finish(FbTensor.endTensor(builder), 'GFTN');
  return builder.asUint8Array();
}

/**
 * Encodes the rows of an [N, ...] tensor as [1, ...] tensors, one at a time, without building
 * each: rows share dtype and shape, so their encodings differ only in the data bytes. `row(i)`
 * answers row i's encoding in one buffer that the next call overwrites: encode it into its
 * message (or copy it) before asking for the next.
 */
export function rowEncoder(tensor: Tensor): { rows: number; row(i: number): Uint8Array } {
  validateShape(tensor.dtype, tensor.shape, tensor.data.byteLength);
  const rows = tensor.shape[0]!;
  if (rows === 0) return { rows, row: (i) => { throw new ValidationError(`row ${i} of a tensor with no rows`); } };
  const rowBytes = tensor.data.byteLength / rows;
  const first = { dtype: tensor.dtype, shape: [1, ...tensor.shape.slice(1)], data: tensor.data.subarray(0, rowBytes) };
  const encoded = encodeTensor(first).slice();
  const at = decodeTensor(encoded).data.byteOffset - encoded.byteOffset;
  return {
    rows,
    row(i) {
      if (!Number.isInteger(i) || i < 0 || i >= rows) throw new ValidationError(`row ${i} of a tensor with ${rows} rows`);
      encoded.set(tensor.data.subarray(i * rowBytes, (i + 1) * rowBytes), at);
      return encoded;
    },
  };
}

/** Reads a shape vector as numbers, refusing lengths the buffer cannot hold. */
export function readShape(length: number, at: (i: number) => bigint | null): number[] {
  if (length > TENSOR_LIMITS.maxRank) throw new ValidationError(`tensor rank ${length} exceeds ${TENSOR_LIMITS.maxRank}`);
  const shape: number[] = [];
  for (let i = 0; i < length; i++) {
    const dim = at(i) ?? 0n;
    if (dim < 0n || dim > BigInt(Number.MAX_SAFE_INTEGER)) throw new ValidationError(`tensor dimension ${dim} out of range`);
    shape.push(Number(dim));
  }
  return shape;
}

/** Wraps flatbuffers' own reads, which throw RangeError on truncated input, into DecodeError. */
export function readFlatbuffer<T>(what: string, bytes: Uint8Array, identifier: string, read: (bb: flatbuffers.ByteBuffer) => T): T {
  if (bytes.byteLength < 8) throw new DecodeError(`${what}: ${bytes.byteLength} bytes is too short for a FlatBuffer`);
  const bb = new flatbuffers.ByteBuffer(bytes);
  if (!bb.__has_identifier(identifier)) throw new DecodeError(`${what}: missing file identifier '${identifier}'`);
  try {
    return read(bb);
  } catch (error) {
    if (error instanceof DecodeError || error instanceof ValidationError) throw error;
    throw new DecodeError(`${what}: truncated or corrupt FlatBuffer`, { cause: error });
  }
}

/** Checks that a vector found at `start` of `length` bytes lies inside the buffer. */
export function checkBounds(what: string, start: number, length: number, total: number): void {
  if (start < 0 || length < 0 || start + length > total) throw new DecodeError(`${what}: vector [${start}, ${start + length}) outside a ${total}-byte buffer`);
}

export function decodeTensor(bytes: Uint8Array): Tensor {
  return readFlatbuffer('tensor', bytes, 'GFTN', (bb) => {
    const fb = FbTensor.getRootAsTensor(bb);
    const dtype = fromFbDType(fb.dtype());
    const shape = readShape(fb.shapeLength(), (i) => fb.shape(i));
    const length = fb.dataLength();
    const data = fb.dataArray() ?? new Uint8Array(0);
    checkBounds('tensor data', data.byteOffset - bytes.byteOffset, length, bytes.byteLength);
    validateShape(dtype, shape, data.byteLength);
    return { dtype, shape, data };
  });
}
