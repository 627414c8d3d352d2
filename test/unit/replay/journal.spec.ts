import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../src/domain/errors.js';
import type { Kafka } from '../../../src/kafka/client.js';
import type { EventProducer, OutgoingMessage } from '../../../src/kafka/producer.js';
import { createLogger } from '../../../src/log.js';
import { decodeJournalRecords, encodeJournalRecord, type JournalRecord } from '../../../src/replay/journal.js';
import { openJournal } from '../../../src/replay/journal-sink.js';

describe('journal records', () => {
  it('round-trip, Infinity included', () => {
    const started: JournalRecord = { type: 'started', instance: 'i1', atMs: 1_000, tickMs: 200, queuePolicy: { agingMs: Infinity, maxQueueSize: 5 }, scheduler: { maxAttempts: 2 } };
    const [decoded] = decodeJournalRecords(encodeJournalRecord(started));
    expect(decoded).toEqual(started);
    expect(decoded?.type === 'started' && decoded.queuePolicy.agingMs).toBe(Infinity);
    const input: JournalRecord = { type: 'input', instance: 'i1', seq: 3, atMs: 1_005, ref: 'inference.requests:2:41' };
    expect(decodeJournalRecords(encodeJournalRecord(input))).toEqual([input]);
  });

  it('expand an inputs message into its turns, in order, numbered from its seq', () => {
    const bytes = encodeJournalRecord({ type: 'inputs', instance: 'i1', seq: 7, atMs: [10, 10, 12], refs: ['inference.requests:0:5', 'inference.requests:0:6', 'tick:12'] });
    expect(decodeJournalRecords(bytes)).toEqual([
      { type: 'input', instance: 'i1', seq: 7, atMs: 10, ref: 'inference.requests:0:5' },
      { type: 'input', instance: 'i1', seq: 8, atMs: 10, ref: 'inference.requests:0:6' },
      { type: 'input', instance: 'i1', seq: 9, atMs: 12, ref: 'tick:12' },
    ]);
  });

  it('refuse what is not a journal record, with a typed error', () => {
    expect(() => decodeJournalRecords(Buffer.from('nope'))).toThrow(DecodeError);
    expect(() => decodeJournalRecords(Buffer.from('{"type":"other","instance":"i","atMs":1}'))).toThrow(/not a journal record/);
    expect(() => decodeJournalRecords(Buffer.from('{"type":"input","instance":"i","atMs":1,"seq":0}'))).toThrow(/without a ref/);
    expect(() => decodeJournalRecords(Buffer.from('{"type":"inputs","instance":"i","seq":0,"atMs":[1,2],"refs":["a"]}'))).toThrow(/not a journal inputs record/);
    expect(() => decodeJournalRecords(Buffer.from('{"type":"inputs","instance":"i","seq":0,"atMs":[1],"refs":[5]}'))).toThrow(/bad turn 0/);
  });
});

/** A journal sink over a producer that keeps what it is handed. */
async function recordingJournal() {
  const sent: OutgoingMessage[] = [];
  const producer: EventProducer = { send: async (_topic, messages) => void sent.push(...messages), disconnect: async () => undefined };
  const kafka = { admin: () => ({ connect: async () => undefined, disconnect: async () => undefined, listTopics: async () => ['dispatcher.inputs'] }) } as unknown as Kafka;
  const started = { type: 'started', instance: 'i1', atMs: 0, tickMs: 100, queuePolicy: {}, scheduler: {} } as const;
  const journal = await openJournal(kafka, producer, createLogger({}, 'error'), started);
  const read = (): JournalRecord[] => sent.flatMap((m) => decodeJournalRecords(m.value!));
  return { journal, sent, read, started };
}

type Turn = { kind: 'input'; atMs: number; ref: string } | { kind: 'wake'; atMs: number } | { kind: 'rejected'; atMs: number; ref: string; reason: string } | { kind: 'yield' };

const turnArb: fc.Arbitrary<Turn> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('input' as const), atMs: fc.nat(1_000), ref: fc.nat(50).map((o) => `inference.requests:0:${o}`) }) },
  fc.record({ kind: fc.constant('wake' as const), atMs: fc.nat(1_000) }),
  fc.record({ kind: fc.constant('rejected' as const), atMs: fc.nat(1_000), ref: fc.constant('inference.requests:1:3'), reason: fc.constant('bad input') }),
  fc.constant({ kind: 'yield' as const }),
);

describe('journal sink', () => {
  it('writes a fetched batch of input turns as one message, and a lone turn as a plain input', async () => {
    const { journal, sent, read, started } = await recordingJournal();
    for (let i = 0; i < 100; i++) journal.input(5, `inference.requests:0:${i}`);
    await new Promise((r) => setImmediate(r));
    journal.input(6, 'tick:6');
    journal.flush();
    expect(sent).toHaveLength(3);
    expect(JSON.parse(sent[2]!.value!.toString()).type).toBe('input');
    const records = read();
    expect(records[0]).toEqual(started);
    expect(records.slice(1).map((r) => (r.type === 'input' ? [r.seq, r.ref] : null))).toEqual([
      ...Array.from({ length: 100 }, (_, i) => [i, `inference.requests:0:${i}`]),
      [100, 'tick:6'],
    ]);
  });

  it('reads back every turn, in the order and with the numbers and times it was made, however they are grouped', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(turnArb, { maxLength: 60 }), async (turns) => {
        const { journal, read } = await recordingJournal();
        const expected: JournalRecord[] = [];
        let seq = 0;
        for (const t of turns) {
          if (t.kind === 'yield') await new Promise((r) => setImmediate(r));
          else if (t.kind === 'input') journal.input(t.atMs, t.ref), expected.push({ type: 'input', instance: 'i1', seq: seq++, atMs: t.atMs, ref: t.ref });
          else if (t.kind === 'wake') journal.wake(t.atMs), expected.push({ type: 'wake', instance: 'i1', seq: seq++, atMs: t.atMs });
          else journal.rejected(t.atMs, t.ref, t.reason), expected.push({ type: 'rejected', instance: 'i1', seq: seq++, atMs: t.atMs, ref: t.ref, reason: t.reason });
        }
        journal.flush();
        expect(read().slice(1)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});
