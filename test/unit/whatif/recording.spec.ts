import { describe, expect, it } from 'vitest';
import type { SchedulerEvent, WorkerReport } from '../../../src/domain/events/index.js';
import { estimateHops, fleetOf, recordedOutcomes } from '../../../src/whatif/recording.js';
import { heartbeat, request } from '../replay/fixtures.js';

const ctx = (atMs: number) => ({ atMs, inputs: [] as string[] });
const decisions: SchedulerEvent[] = [
  { type: 'BatchFormed', batchId: 'b1', model: 'm', modelVersion: '1', requestIds: ['r1', 'r2'], reason: 'CAPACITY', ...ctx(10) },
  { type: 'BatchAssigned', batchId: 'b1', model: 'm', workerId: 'w', workerEpoch: 1, deviceUuid: 'g', reservedBytes: 0, ...ctx(12) },
  { type: 'RequestRejected', requestId: 'r3', model: 'm', tenant: 'acme', reason: 'late', leavesBatch: true, ...ctx(15) },
  { type: 'BatchCompleted', batchId: 'b1', model: 'm', workerId: 'w', workerEpoch: 1, serviceTimeUs: 20_000, ...ctx(50) },
];
const reports: WorkerReport[] = [{ type: 'BatchDone', batchId: 'b1', model: 'm', modelVersion: '1', workerId: 'w', workerEpoch: 1, deviceUuid: 'g', batchSize: 2, serviceTimeUs: 20_000, transferUs: 0, computeUs: 0, timestampMs: 40 }];

describe('reading a recording', () => {
  it('tells each request OK at its batch report, rejected at its rejection, or unanswered', () => {
    const outcomes = recordedOutcomes([request(1, 0, 'batch', 30), request(2, 0, 'batch', 100), request(3, 0), request(4, 0)], decisions, reports, 500);
    expect(outcomes.map((o) => [o.requestId, o.status, o.latencyMs, o.inTime])).toEqual([
      ['r1', 'OK', 40, false], ['r2', 'OK', 40, true], ['r3', 'REJECTED', 15, false], ['r4', 'UNANSWERED', 500, false],
    ]);
  });

  it('measures the hop to the worker and the hop back', () => {
    expect(estimateHops(decisions, reports)).toEqual({ dispatchMs: 8, returnMs: 10 });
    expect(estimateHops([], [])).toEqual({ dispatchMs: 0, returnMs: 0 });
  });

  it('finds the workers, their slots, and which one stopped heartbeating', () => {
    const beats = [0, 500, 1_000, 1_500, 2_000].flatMap((t) => [
      { atMs: t, heartbeat: heartbeat('steady', t, 1, 1) },
      ...(t <= 500 ? [{ atMs: t, heartbeat: heartbeat('victim', t, 3) }] : []),
    ]);
    const { workers, heartbeatMs } = fleetOf(beats, 2_100);
    expect(heartbeatMs).toBe(500);
    expect(workers.map((w) => [w.workerId, w.slots, w.aliveFromMs, w.aliveToMs])).toEqual([['steady', 2, 0, Infinity], ['victim', 3, 0, 1_000]]);
  });
});
