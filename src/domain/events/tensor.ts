/** Element types a tensor may carry; names follow KServe v2 / Triton. */
export type DType = 'FP32' | 'FP16' | 'INT32' | 'INT64' | 'UINT8';

export const DTYPE_BYTES: Readonly<Record<DType, number>> = { FP32: 4, FP16: 2, INT32: 4, INT64: 8, UINT8: 1 };

/** A dense row-major tensor. `data` may be a view into a larger buffer (zero-copy). */
export interface Tensor {
  dtype: DType;
  shape: readonly number[];
  data: Uint8Array;
}
