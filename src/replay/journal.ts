/**
 * The dispatcher's journal (topic dispatcher.inputs, JSON, key: the dispatcher instance): the
 * order and the logical time in which one dispatcher process applied its inputs and its batcher's
 * timers. Decisions on scheduler.events say what was decided; the journal says what was known
 * when, which is what re-deciding them needs:
 * - `started`: a process began, with the tunables it runs with and the time its timers start from;
 * - `input`: one turn driven by a message (`ref` = 'topic:partition:offset', read back from its
 *   topic) or by the liveness tick (`ref` = 'tick:<ms>'); a request appears only once admitted;
 * - `rejected`: one turn in which a request (`ref`) was refused at admission (a bad tensor, a shape
 *   its model does not take, an invalid tenant), with the reason: admission looks at what replay
 *   does not re-check, so the journal says what it decided, and replay re-makes its RequestRejected;
 * - `wake`: one turn driven by the batcher's timer firing;
 * - `inputs` (on the wire only): consecutive `input` turns in one message, turn i with seq + i, so
 *   that a fetched batch of requests costs one journal message rather than one each. Readers expand
 *   it into its `input` turns; a process writes a lone turn as a plain `input`. Older journals,
 *   one `input` per message, read as before.
 * Every decision of a turn carries the turn's `atMs`. Payloads are not copied: the source topics
 * hold them.
 */
import { DecodeError } from '../domain/errors.js';
import type { QueuePolicy } from '../processors/batching/queue-policy.js';
import type { SchedulerConfig } from '../processors/scheduling/config.js';

export const JOURNAL_TOPIC = 'dispatcher.inputs';

export interface JournalStarted {
  type: 'started';
  instance: string;
  atMs: number;
  tickMs: number;
  queuePolicy: Partial<QueuePolicy>;
  scheduler: Partial<SchedulerConfig>;
}

export interface JournalInput {
  type: 'input';
  instance: string;
  seq: number;
  atMs: number;
  ref: string;
}

export interface JournalWake {
  type: 'wake';
  instance: string;
  seq: number;
  atMs: number;
}

export interface JournalRejected {
  type: 'rejected';
  instance: string;
  seq: number;
  atMs: number;
  ref: string;
  reason: string;
}

/** Consecutive `input` turns of one process, as one message: turn i is seq + i, at atMs[i], ref refs[i]. */
export interface JournalInputs {
  type: 'inputs';
  instance: string;
  seq: number;
  atMs: number[];
  refs: string[];
}

/** One turn of a process. */
export type JournalTurn = JournalInput | JournalWake | JournalRejected;

export type JournalRecord = JournalStarted | JournalTurn;

/** What one journal message holds. */
export type JournalMessage = JournalRecord | JournalInputs;

/** JSON cannot spell Infinity (a queue policy's agingMs may be): such numbers travel as {"$number": "Infinity"}. */
export function encodeJournalRecord(record: JournalMessage): Buffer {
  return Buffer.from(JSON.stringify(record, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? { $number: String(value) } : value)));
}

/** The records of one journal message, an `inputs` message expanded into its turns. */
export function decodeJournalRecords(bytes: Buffer): JournalRecord[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'), (_key, value: unknown) =>
      value !== null && typeof value === 'object' && typeof (value as { $number?: unknown }).$number === 'string' ? Number((value as { $number: string }).$number) : value,
    );
  } catch (cause) {
    throw new DecodeError('journal record is not valid JSON', { cause });
  }
  const group = parsed as Partial<JournalInputs> | null;
  if (group?.type === 'inputs') return expandInputs(group, bytes);
  const record = parsed as Partial<JournalRecord> | null;
  const kind = record?.type;
  if (typeof record?.instance !== 'string' || typeof record.atMs !== 'number' || (kind !== 'started' && kind !== 'input' && kind !== 'wake' && kind !== 'rejected')) {
    throw new DecodeError(`not a journal record: ${bytes.toString('utf8').slice(0, 120)}`);
  }
  if ((kind === 'input' || kind === 'rejected') && typeof (record as JournalInput).ref !== 'string') throw new DecodeError(`journal ${kind} record without a ref`);
  if (kind === 'rejected' && typeof (record as JournalRejected).reason !== 'string') throw new DecodeError('journal rejected record without a reason');
  return [record as JournalRecord];
}

function expandInputs(group: Partial<JournalInputs>, bytes: Buffer): JournalInput[] {
  const { instance, seq, atMs, refs } = group;
  if (typeof instance !== 'string' || typeof seq !== 'number' || !Array.isArray(atMs) || !Array.isArray(refs) || atMs.length !== refs.length || atMs.length === 0) {
    throw new DecodeError(`not a journal inputs record: ${bytes.toString('utf8').slice(0, 120)}`);
  }
  return refs.map((ref, i) => {
    const at = atMs[i];
    if (typeof ref !== 'string' || typeof at !== 'number') throw new DecodeError(`journal inputs record with a bad turn ${seq + i}`);
    return { type: 'input', instance, seq: seq + i, atMs: at, ref };
  });
}
