import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../../src/domain/errors.js';
import { decodeSnapshot, encodeSnapshot, snapshotKey, type PartitionSnapshot } from '../../../src/kafka/scheduler-snapshots.js';
import { createLedger, foldDecision, ledgerSnapshot, restoreLedger, statusOf } from '../../../src/processors/dispatch/partition-ledger.js';

describe('scheduler.snapshots codec', () => {
  const ledger = createLedger();
  foldDecision(ledger, { type: 'BatchFormed', atMs: 10, inputs: ['x'], batchId: 'm@1#1~a.1', model: 'm', modelVersion: '1', requestIds: ['r1', 'r2'], reason: 'FULL' });
  foldDecision(ledger, { type: 'BatchAssigned', atMs: 11, inputs: ['x'], batchId: 'm@1#1~a.1', model: 'm', workerId: 'w', workerEpoch: 5, deviceUuid: 'GPU-1', reservedBytes: 64 });
  foldDecision(ledger, { type: 'RequestRejected', atMs: 12, inputs: ['x'], requestId: 'r0', model: 'm', tenant: 't', reason: 'late', leavesBatch: true });
  const snapshot: PartitionSnapshot = { version: 1, groupId: 'g', partition: 4, eventsOffset: '120', reportsOffset: '7', takenAtMs: 13, ledger: ledgerSnapshot(ledger) };

  it('round-trips a snapshot, and the ledger restored from it answers as the original', () => {
    const bytes = encodeSnapshot(snapshot);
    const back = decodeSnapshot(bytes);
    expect(back).toEqual(snapshot);
    const restored = restoreLedger(back.ledger);
    expect(statusOf(restored, 'r1')).toEqual(statusOf(ledger, 'r1'));
    expect(statusOf(restored, 'r0')).toBe('finished');
    expect(snapshotKey('g', 4)).toBe('g/4');
  });

  it('compresses request ids: a thousand answered requests take well under their JSON size', () => {
    const big = createLedger();
    for (let i = 0; i < 1000; i++) foldDecision(big, { type: 'RequestRejected', atMs: i, inputs: [], requestId: `0b0c7113-84cd-4dab-9adf-${String(i).padStart(12, '0')}`, model: 'm', tenant: 't', reason: '', leavesBatch: true });
    const s: PartitionSnapshot = { ...snapshot, ledger: ledgerSnapshot(big) };
    expect(encodeSnapshot(s).byteLength).toBeLessThan(JSON.stringify(s).length / 3);
  });

  it('refuses what is not a snapshot with a DecodeError', () => {
    expect(() => decodeSnapshot(Buffer.from('not gzip'))).toThrow(DecodeError);
    expect(() => decodeSnapshot(gzipSync(Buffer.from('{"version":2}')))).toThrow(DecodeError);
    expect(() => decodeSnapshot(gzipSync(Buffer.from(JSON.stringify({ ...snapshot, eventsOffset: 120 }))))).toThrow(/eventsOffset/);
  });
});
