/** Element types a tensor may carry; names follow KServe v2 / Triton. */
export type DType = 'FP32' | 'FP16' | 'INT32' | 'INT64' | 'UINT8';

export const DTYPE_BYTES: Readonly<Record<DType, number>> = { FP32: 4, FP16: 2, INT32: 4, INT64: 8, UINT8: 1 };

/** A dense row-major tensor. `data` may be a view into a larger buffer (zero-copy). */
export interface Tensor {
  dtype: DType;
  shape: readonly number[];
  data: Uint8Array;
}

/** Whether two shapes have the same dimensions, in order. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** An FP32 tensor's values as a Float32Array: a view when its bytes are 4-byte aligned in memory, else one copy. */
export function float32View(tensor: Pick<Tensor, 'data'>): Float32Array {
  const { data } = tensor;
  return data.byteOffset % 4 === 0 ? new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4) : new Float32Array(data.slice().buffer);
}

export function float32Tensor(values: Float32Array, shape: readonly number[]): Tensor {
  return { dtype: 'FP32', shape: [...shape], data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}
