/** The dispatcher core routes by the traffic settings: canary stamping, shadow copies, and the guard's rollback. */
import { VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { BatchAssigned, BatchFormed, ModelManifest, SchedulerEvent } from '../../../src/domain/events/index.js';
import { createDispatcherCore } from '../../../src/processors/dispatch/dispatcher-core.js';
import { requestKey, routeRequest } from '../../../src/processors/traffic/route.js';
import { heartbeat, MANIFEST, request } from '../replay/fixtures.js';

const manifest: ModelManifest = { ...MANIFEST, canaryVersion: '2', canaryWeightPercent: 50, shadowVersion: '3' };

function setup() {
  const clock = new VirtualTimeScheduler();
  const decided: SchedulerEvent[] = [];
  const core = createDispatcherCore<string>({
    clock,
    rollout: { minSamples: 10, windowMs: 60_000 },
    shadowOf: (_h, copy) => copy.requestId,
    effects: { decided: (e) => decided.push(e), rejected: () => undefined, finished: () => undefined, failed: (e) => { throw e; } },
  });
  core.apply({ kind: 'manifest', ref: 'models.manifests:0:0', manifest });
  core.apply({ kind: 'heartbeat', ref: 'gpu.heartbeats:0:0', heartbeat: heartbeat('w1', 0, 64) });
  return { clock, core, decided };
}

describe('dispatcher core traffic', () => {
  it('batches canary requests for the canary, stable ones for the current version, and a shadow copy of each for the shadow', () => {
    const { clock, core, decided } = setup();
    for (let i = 0; i < 40; i++) core.admit({ ref: `inference.requests:0:${i}`, request: request(i, 0), held: `r${i}` });
    clock.flush();
    const formed = decided.filter((e): e is BatchFormed => e.type === 'BatchFormed');
    const versionOf = new Map(formed.flatMap((b) => b.requestIds.map((id) => [id, b.modelVersion] as const)));
    for (let i = 0; i < 40; i++) {
      const r = request(i, 0);
      expect(versionOf.get(r.requestId)).toBe(routeRequest(manifest, requestKey(r), false).version);
      expect(versionOf.get(`${r.requestId}~shadow`)).toBe('3');
    }
    // A batch asks the worker for the canary or shadow by name, and for stable as "current" ('').
    const asked = new Set(formed.map((b) => `${b.modelVersion}:${core.openBatch(b.batchId)?.modelVersion}`));
    expect(asked).toEqual(new Set(['1:', '2:2', '3:3']));
  });

  it('rolls the canary back when it misses its deadlines, and routes everything to stable after', () => {
    const { clock, core, decided } = setup();
    for (let i = 0; i < 60; i++) core.admit({ ref: `inference.requests:0:${i}`, request: request(i, 0, 'batch', 2_000), held: `r${i}` });
    clock.flush();
    const formed = new Map(decided.filter((e): e is BatchFormed => e.type === 'BatchFormed').map((b) => [b.batchId, b]));
    let offset = 0;
    for (const a of decided.filter((e): e is BatchAssigned => e.type === 'BatchAssigned')) {
      const b = formed.get(a.batchId)!;
      // Stable answers in 10 ms, the canary after its 2 s deadline.
      const doneAt = b.modelVersion === '2' ? 5_000 : 10;
      core.apply({
        kind: 'report', ref: `worker.reports:0:${offset++}`,
        report: { type: 'BatchDone', batchId: b.batchId, model: 'm', modelVersion: b.modelVersion, workerId: a.workerId, workerEpoch: a.workerEpoch, deviceUuid: a.deviceUuid, batchSize: b.requestIds.length, serviceTimeUs: 1, transferUs: 0, computeUs: 1, timestampMs: doneAt },
      });
    }
    const aborted = decided.filter((e) => e.type === 'RolloutAborted');
    expect(aborted).toHaveLength(1);
    expect(aborted[0]).toMatchObject({ model: 'm', stableVersion: '1', canaryVersion: '2', canaryAttainment: 0, stableAttainment: 1 });
    const before = decided.length;
    for (let i = 100; i < 140; i++) core.admit({ ref: `inference.requests:0:${i}`, request: request(i, 0), held: `r${i}` });
    clock.flush();
    const later = decided.slice(before).filter((e): e is BatchFormed => e.type === 'BatchFormed');
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((b) => b.modelVersion !== '2')).toBe(true);
  });
});
