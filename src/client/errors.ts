import { GpuflowError } from '../domain/errors.js';

/** The dispatcher refused the request (deadline cannot be met, queue full, unknown model, quota…). */
export class RequestRejectedError extends GpuflowError {
  constructor(readonly requestId: string, readonly reason: string) {
    super(`request ${requestId} rejected: ${reason}`);
  }
}

/** A worker ran the request and failed. */
export class RequestFailedError extends GpuflowError {
  constructor(readonly requestId: string, readonly reason: string) {
    super(`request ${requestId} failed: ${reason}`, { retriable: true });
  }
}

/** No result arrived within the client's timeout. The request may still complete; a late result is dropped. */
export class RequestTimeoutError extends GpuflowError {
  constructor(readonly requestId: string, readonly timeoutMs: number) {
    super(`request ${requestId}: no result within ${timeoutMs} ms`, { retriable: true });
  }
}

/** The caller aborted the request through its AbortSignal. */
export class RequestCancelledError extends GpuflowError {
  constructor(readonly requestId: string) {
    super(`request ${requestId} cancelled`);
  }
}
