/**
 * `--from` / `--to` of replay and what-if: a time (ISO 8601, or epoch milliseconds) or an offset of
 * the journal topic (dispatcher.inputs has one partition, so an offset is a position in the
 * dispatchers' shared history). A bare integer below 10^11 is an offset: epoch milliseconds have
 * been above that since 1973.
 */
import { ConfigError } from '../domain/errors.js';

export type Bound = { kind: 'time'; ms: number } | { kind: 'offset'; offset: bigint };

const EPOCH_MS_FLOOR = 100_000_000_000;

export function parseBound(text: string, flag: string): Bound {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const n = BigInt(trimmed);
    return n >= BigInt(EPOCH_MS_FLOOR) ? { kind: 'time', ms: Number(n) } : { kind: 'offset', offset: n };
  }
  const ms = Date.parse(trimmed);
  if (Number.isNaN(ms)) throw new ConfigError(`${flag} must be a time (ISO 8601 or epoch ms) or a journal offset, got '${text}'`);
  return { kind: 'time', ms };
}

/** Whether a journal entry at `offset`, decided at `atMs`, lies within [from, to] (open ends when absent). */
export function withinRange(offset: bigint, atMs: number, from: Bound | undefined, to: Bound | undefined): boolean {
  const after = from === undefined || (from.kind === 'time' ? atMs >= from.ms : offset >= from.offset);
  const before = to === undefined || (to.kind === 'time' ? atMs <= to.ms : offset <= to.offset);
  return after && before;
}

export function describeBound(bound: Bound | undefined, open: string): string {
  if (bound === undefined) return open;
  return bound.kind === 'time' ? new Date(bound.ms).toISOString() : `journal offset ${bound.offset}`;
}
