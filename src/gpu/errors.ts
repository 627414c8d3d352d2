import { DecodeError, GpuflowError, ValidationError } from '../domain/errors.js';

/** A CUDA, cuBLAS, NVRTC or NVML call returned a status other than success. */
export class GpuCallError extends GpuflowError {
  constructor(
    readonly library: string,
    readonly call: string,
    readonly code: number,
    detail: string,
    options: { cause?: unknown; retriable?: boolean } = {},
  ) {
    super(`${library} ${call} failed with status ${code}${detail ? ` (${detail})` : ''}`, options);
  }
}

/** A weights file that is not a valid safetensors file, or does not describe the expected model. */
export class SafetensorsError extends DecodeError {}

/** A batch whose dtype or shape does not match the model it was sent to. */
export class TensorMismatchError extends ValidationError {}

/** A KServe v2 server that cannot be reached or is not ready: trying later may succeed. */
export class KServeUnavailableError extends GpuflowError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retriable: true });
  }
}

/** A KServe v2 server that answered with an error: `status` and `serverMessage` are its own. */
export class KServeRequestError extends GpuflowError {
  constructor(
    readonly status: number,
    readonly serverMessage: string,
    options: { cause?: unknown } = {},
  ) {
    super(`inference server answered ${status}: ${serverMessage}`, { ...options, retriable: status >= 500 && status !== 501 });
  }
}

/** A request for a model (or version) that the host has not loaded. */
export class ModelNotLoadedError extends GpuflowError {}
