import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../src/domain/errors.js';
import { decodeJournalRecord, encodeJournalRecord, type JournalRecord } from '../../../src/replay/journal.js';

describe('journal records', () => {
  it('round-trip, Infinity included', () => {
    const started: JournalRecord = { type: 'started', instance: 'i1', atMs: 1_000, tickMs: 200, queuePolicy: { agingMs: Infinity, maxQueueSize: 5 }, scheduler: { maxAttempts: 2 } };
    const decoded = decodeJournalRecord(encodeJournalRecord(started));
    expect(decoded).toEqual(started);
    expect(decoded.type === 'started' && decoded.queuePolicy.agingMs).toBe(Infinity);
    const input: JournalRecord = { type: 'input', instance: 'i1', seq: 3, atMs: 1_005, ref: 'inference.requests:2:41' };
    expect(decodeJournalRecord(encodeJournalRecord(input))).toEqual(input);
  });

  it('refuse what is not a journal record, with a typed error', () => {
    expect(() => decodeJournalRecord(Buffer.from('nope'))).toThrow(DecodeError);
    expect(() => decodeJournalRecord(Buffer.from('{"type":"other","instance":"i","atMs":1}'))).toThrow(/not a journal record/);
    expect(() => decodeJournalRecord(Buffer.from('{"type":"input","instance":"i","atMs":1,"seq":0}'))).toThrow(/without a ref/);
  });
});
