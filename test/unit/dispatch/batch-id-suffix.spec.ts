/** The dispatcher core's batch id suffix: every decision and the worker's report use the suffixed id. */
import { VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { BatchAssigned, BatchFormed, SchedulerEvent } from '../../../src/domain/events/index.js';
import { createDispatcherCore } from '../../../src/processors/dispatch/dispatcher-core.js';
import { heartbeat, MANIFEST, request } from '../replay/fixtures.js';

function run(batchIdSuffix?: string) {
  const clock = new VirtualTimeScheduler();
  const decided: SchedulerEvent[] = [];
  const finished: string[] = [];
  const core = createDispatcherCore<string>({
    clock,
    ...(batchIdSuffix ? { batchIdSuffix } : {}),
    effects: { decided: (e) => decided.push(e), rejected: () => undefined, finished: (h) => finished.push(h), failed: (e) => { throw e; } },
  });
  core.apply({ kind: 'manifest', ref: 'models.manifests:0:0', manifest: MANIFEST });
  core.apply({ kind: 'heartbeat', ref: 'gpu.heartbeats:0:0', heartbeat: heartbeat('w1', 0, 4) });
  for (let i = 0; i < 8; i++) core.admit({ ref: `inference.requests:0:${i}`, request: request(i, 0), held: `r${i}` });
  clock.flush();
  const formed = decided.filter((e): e is BatchFormed => e.type === 'BatchFormed');
  const assigned = decided.filter((e): e is BatchAssigned => e.type === 'BatchAssigned');
  for (const [i, a] of assigned.entries()) {
    const size = formed.find((b) => b.batchId === a.batchId)!.requestIds.length;
    core.apply({
      kind: 'report', ref: `worker.reports:0:${i}`,
      report: { type: 'BatchDone', batchId: a.batchId, model: a.model, modelVersion: '1', workerId: a.workerId, workerEpoch: a.workerEpoch, deviceUuid: a.deviceUuid, batchSize: size, serviceTimeUs: 1, transferUs: 0, computeUs: 1, timestampMs: 1 },
    });
  }
  return { core, decided, formed, assigned, finished };
}

describe('dispatcher core batch id suffix', () => {
  it('appends the suffix to every batch it forms; decisions, the open batch and reports all use it', () => {
    const plain = run();
    const { core, decided, formed, assigned, finished } = run('~abc.2');
    expect(formed.length).toBeGreaterThan(0);
    expect(formed.map((b) => b.batchId)).toEqual(plain.formed.map((b) => `${b.batchId}~abc.2`));
    expect(assigned.map((a) => a.batchId)).toEqual(formed.map((b) => b.batchId));
    expect(decided.filter((e) => e.type === 'BatchCompleted').map((e) => (e as { batchId: string }).batchId)).toEqual(assigned.map((a) => a.batchId));
    expect(finished.sort()).toEqual(plain.finished.sort());
    expect(finished).toHaveLength(8);
    expect(core.unfinished).toBe(0);
    expect(core.heldAll()).toEqual([]);
  });

  it('a report naming the batch without the suffix (another core\'s batch) finishes nothing', () => {
    const clock = new VirtualTimeScheduler();
    const finished: string[] = [];
    const decided: SchedulerEvent[] = [];
    const core = createDispatcherCore<string>({ clock, batchIdSuffix: '~x.1', effects: { decided: (e) => decided.push(e), rejected: () => undefined, finished: (h) => finished.push(h), failed: (e) => { throw e; } } });
    core.apply({ kind: 'manifest', ref: 'models.manifests:0:0', manifest: MANIFEST });
    core.apply({ kind: 'heartbeat', ref: 'gpu.heartbeats:0:0', heartbeat: heartbeat('w1', 0, 4) });
    core.admit({ ref: 'inference.requests:0:0', request: request(0, 0), held: 'r0' });
    clock.flush();
    const a = decided.find((e): e is BatchAssigned => e.type === 'BatchAssigned')!;
    expect(core.heldAll()).toEqual(['r0']);
    core.apply({
      kind: 'report', ref: 'worker.reports:0:0',
      report: { type: 'BatchDone', batchId: a.batchId.replace('~x.1', ''), model: a.model, modelVersion: '1', workerId: a.workerId, workerEpoch: a.workerEpoch, deviceUuid: a.deviceUuid, batchSize: 1, serviceTimeUs: 1, transferUs: 0, computeUs: 1, timestampMs: 1 },
    });
    expect(finished).toEqual([]);
    expect(core.unfinished).toBe(1);
  });
});
