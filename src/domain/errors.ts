/**
 * Typed errors. `retriable` says whether trying the same thing again may succeed
 * (a broker not up yet) or never will (a malformed message, a programmer error).
 */
export class GpuflowError extends Error {
  readonly retriable: boolean;
  constructor(message: string, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** Configuration or command-line input that cannot work. */
export class ConfigError extends GpuflowError {}

/** A message that cannot be decoded: it goes to the dead-letter topic with this reason. */
export class DecodeError extends GpuflowError {}

/** Bytes that decode but describe something invalid (absurd shape, unknown enum). */
export class ValidationError extends GpuflowError {}

/** The schema registry refused a schema; `reason` is the registry's own words. */
export class SchemaIncompatibleError extends GpuflowError {
  constructor(readonly subject: string, readonly reason: string, options: { cause?: unknown } = {}) {
    super(`schema for ${subject} refused by the registry: ${reason}`, options);
  }
}

/** A local stack component could not start or answer; says which and what to install. */
export class StackError extends GpuflowError {
  constructor(readonly component: string, message: string, readonly hint?: string, options: { cause?: unknown } = {}) {
    super(`${component}: ${message}${hint ? ` (${hint})` : ''}`, options);
  }
}

/** No NVIDIA driver or library: the caller falls back to simulated devices. */
export class NoGpuError extends GpuflowError {}

/** Turns anything thrown into one line for logs and the CLI. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}
