/**
 * Structured logs: one JSON object per line on stderr, so stdout stays free for
 * command output and tables. GPUFLOW_LOG=debug|info|warn|error|silent sets the level.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(
  base: Record<string, unknown> = {},
  level: Level | 'silent' = (process.env.GPUFLOW_LOG as Level | 'silent' | undefined) ?? 'info',
  write: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Logger {
  const threshold = ORDER[level] ?? ORDER.info;
  const emit = (lvl: Level, event: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < threshold) return;
    write(JSON.stringify({ ts: new Date().toISOString(), level: lvl, event, ...base, ...fields }, jsonSafe));
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    child: (fields) => createLogger({ ...base, ...fields }, level, write),
  };
}

// BigInt and Error do not serialise by default.
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
