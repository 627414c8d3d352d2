import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SchedulerEvent } from '../../../src/domain/events/scheduler.js';
import { canonicalJson } from '../../../src/replay/compare.js';
import { createDispatchCore, ReplayDivergence, type Turn } from '../../../src/replay/dispatch-core.js';
import { heartbeat, MANIFEST, request } from './fixtures.js';

type Command =
  | { kind: 'request'; sloClass: 'realtime' | 'interactive' | 'batch'; deadlineMs: number; dt: number }
  | { kind: 'heartbeat'; worker: number; dt: number }
  | { kind: 'complete'; pick: number; dt: number }
  | { kind: 'fail'; pick: number; retriable: boolean; dt: number }
  | { kind: 'tick'; dt: number };

const dt = fc.integer({ min: 0, max: 60 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('request' as const), sloClass: fc.constantFrom('realtime' as const, 'interactive' as const, 'batch' as const), deadlineMs: fc.integer({ min: 5, max: 3_000 }), dt }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), worker: fc.integer({ min: 0, max: 1 }), dt }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat(), dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), pick: fc.nat(), retriable: fc.boolean(), dt }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 3_000 }) }) },
);

/**
 * Plays commands the way the live dispatcher meets them: each becomes a turn at its time, and the
 * batcher's timer fires at the first turn after it is due (late, as a busy event loop fires it).
 * Returns the turns as the journal would hold them and the decisions made.
 */
function live(commands: readonly Command[]): { turns: Turn[]; decisions: SchedulerEvent[] } {
  const turns: Turn[] = [];
  const decisions: SchedulerEvent[] = [];
  const inFlight: { batchId: string; workerId: string; size: number }[] = [];
  const sizes = new Map<string, number>();
  const core = createDispatchCore({
    startMs: 0,
    onDecision: (e) => {
      decisions.push(e);
      if (e.type === 'BatchFormed') sizes.set(e.batchId, e.requestIds.length);
      if (e.type === 'BatchAssigned') inFlight.push({ batchId: e.batchId, workerId: e.workerId, size: sizes.get(e.batchId) ?? 1 });
    },
  });
  const turn = (t: Turn): void => {
    turns.push(t);
    core.apply(t);
  };
  let now = 0;
  let seq = 0;
  turn({ atMs: 0, input: { kind: 'manifest', ref: 'models.manifests:0:0', manifest: MANIFEST } });
  for (const c of commands) {
    now += c.dt;
    const due = core.nextWakeMs();
    if (due !== undefined && due <= now) turn({ atMs: now, wake: true });
    const ref = `t:0:${seq++}`;
    switch (c.kind) {
      case 'request':
        turn({ atMs: now, input: { kind: 'request', ref, request: { ...request(seq, now, c.sloClass, c.deadlineMs) } } });
        break;
      case 'heartbeat':
        turn({ atMs: now, input: { kind: 'heartbeat', ref, heartbeat: heartbeat(`w${c.worker}`, now, 2) } });
        break;
      case 'tick':
        turn({ atMs: now, input: { kind: 'tick', ref: `tick:${now}` } });
        break;
      case 'complete':
      case 'fail': {
        if (inFlight.length === 0) break;
        const [b] = inFlight.splice(c.pick % inFlight.length, 1);
        const base = { batchId: b!.batchId, model: 'm', modelVersion: '1', workerId: b!.workerId, workerEpoch: 1, timestampMs: now };
        const report = c.kind === 'complete'
          ? { ...base, type: 'BatchDone' as const, deviceUuid: `${b!.workerId}-gpu0`, batchSize: b!.size, serviceTimeUs: 1_000 + 200 * b!.size, transferUs: 0, computeUs: 0 }
          : { ...base, type: 'BatchRefused' as const, reason: 'out of memory', retriable: c.retriable };
        turn({ atMs: now, input: { kind: 'report', ref, report } });
        break;
      }
    }
  }
  core.close();
  return { turns, decisions };
}

function replay(turns: readonly Turn[]): SchedulerEvent[] {
  const decisions: SchedulerEvent[] = [];
  const core = createDispatchCore({ startMs: 0, onDecision: (e) => decisions.push(e) });
  for (const t of turns) core.apply(t);
  core.close();
  return decisions;
}

/** The first assignment that places a running batch again, or fills a worker past its two slots; null when none. */
function placementProblem(decisions: readonly SchedulerEvent[]): string | null {
  const members = new Map<string, Set<string>>();
  const batchOf = new Map<string, string>();
  const running = new Map<string, string>();
  for (const d of decisions) {
    switch (d.type) {
      case 'BatchFormed':
        members.set(d.batchId, new Set(d.requestIds));
        for (const id of d.requestIds) batchOf.set(id, d.batchId);
        break;
      case 'BatchAssigned':
        if (running.has(d.batchId)) return `${d.batchId} assigned to ${d.workerId} while running on ${running.get(d.batchId)}`;
        running.set(d.batchId, d.workerId);
        // Two slots per worker: the fixture's heartbeats.
        if ([...running.values()].filter((w) => w === d.workerId).length > 2) return `${d.workerId} given a third batch (${d.batchId})`;
        break;
      case 'BatchCompleted':
      case 'BatchRequeued':
        running.delete(d.batchId);
        break;
      case 'WorkerEvicted':
        for (const [batchId, w] of running) if (w === d.workerId) running.delete(batchId);
        break;
      case 'RequestRejected': {
        const batchId = batchOf.get(d.requestId);
        const left = batchId === undefined ? undefined : members.get(batchId);
        left?.delete(d.requestId);
        if (batchId !== undefined && left?.size === 0) running.delete(batchId);
        break;
      }
      default:
        break;
    }
  }
  return null;
}

describe('dispatch core', () => {
  it('re-deciding the journaled turns gives byte-identical decisions', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 5, maxLength: 120 }), (commands) => {
        const run = live(commands);
        expect(replay(run.turns).map(canonicalJson)).toEqual(run.decisions.map(canonicalJson));
      }),
      { numRuns: 60 },
    );
  });

  it('places each batch once, and never more batches on a worker than its slots', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 5, maxLength: 160 }), (commands) => {
        expect(placementProblem(live(commands).decisions)).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it('a completion that lets the batcher form the next batch does not place a waiting batch twice', () => {
    // w0 dies holding two batches; they wait for w1, which is full. When one of w1's batches
    // completes, its freed slot goes to a waiting batch, and the batcher (which still counts w0's
    // slots) forms a new batch in the same turn: that batch must wait, not take the slot again.
    for (let pick = 0; pick < 4; pick++) {
      const commands: Command[] = [
        { kind: 'heartbeat', worker: 0, dt: 0 },
        { kind: 'heartbeat', worker: 1, dt: 0 },
        ...Array.from({ length: 4 }, (): Command => ({ kind: 'request', sloClass: 'batch', deadlineMs: 30_000, dt: 10 })),
        ...Array.from({ length: 3 }, (): Command => ({ kind: 'request', sloClass: 'batch', deadlineMs: 30_000, dt: 10 })),
        { kind: 'heartbeat', worker: 1, dt: 3_000 },
        { kind: 'heartbeat', worker: 1, dt: 2_500 },
        { kind: 'complete', pick, dt: 10 },
        { kind: 'complete', pick, dt: 10 },
      ];
      const { decisions } = live(commands);
      expect(decisions.some((d) => d.type === 'WorkerEvicted')).toBe(true);
      expect(placementProblem(decisions), `pick ${pick}`).toBeNull();
    }
  });

  it('an evicted worker\'s slots are taken back from the batcher', () => {
    // Both workers' four slots are in use and three requests wait in the batcher when w0 dies.
    // Its two batches wait for w1; slots w1 frees go to them, and the batcher forms nothing
    // more until they are placed: it no longer counts w0's slots.
    let completedAfterEviction = 0;
    for (let pick = 0; pick < 6; pick++) {
      const commands: Command[] = [
        { kind: 'heartbeat', worker: 0, dt: 0 },
        { kind: 'heartbeat', worker: 1, dt: 0 },
        ...Array.from({ length: 7 }, (): Command => ({ kind: 'request', sloClass: 'batch', deadlineMs: 30_000, dt: 10 })),
        { kind: 'heartbeat', worker: 1, dt: 3_000 },
        { kind: 'heartbeat', worker: 1, dt: 2_500 },
        { kind: 'complete', pick, dt: 10 },
        { kind: 'complete', pick, dt: 10 },
      ];
      const { decisions } = live(commands);
      const evictedAt = decisions.findIndex((d) => d.type === 'WorkerEvicted');
      expect(evictedAt).toBeGreaterThan(0);
      // Eviction requeues the worker's batches, then evicts it.
      const after = decisions.slice(evictedAt);
      const waiting = new Set(decisions.slice(0, evictedAt).flatMap((d) => (d.type === 'BatchRequeued' && d.atMs === decisions[evictedAt]!.atMs ? [d.batchId] : [])));
      expect(waiting.size).toBe(2);
      completedAfterEviction += after.filter((d) => d.type === 'BatchCompleted').length;
      for (const d of after) {
        if (d.type === 'BatchAssigned') waiting.delete(d.batchId);
        if (d.type === 'BatchFormed') expect(waiting.size, `pick ${pick}: ${d.batchId} formed while ${[...waiting].join(', ')} wait for a slot`).toBe(0);
      }
    }
    expect(completedAfterEviction).toBeGreaterThan(0);
  });

  it('a batch refused as not retriable rejects each member as a decision, with its tenant and the reason', () => {
    const commands: Command[] = [
      { kind: 'heartbeat', worker: 0, dt: 0 },
      ...Array.from({ length: 3 }, (): Command => ({ kind: 'request', sloClass: 'batch', deadlineMs: 30_000, dt: 1 })),
      { kind: 'tick', dt: 100 },
      { kind: 'fail', pick: 0, retriable: false, dt: 10 },
    ];
    const { turns, decisions } = live(commands);
    const formed = decisions.find((d) => d.type === 'BatchFormed');
    expect(formed?.type === 'BatchFormed' && formed.requestIds.length).toBeGreaterThan(0);
    const members = formed?.type === 'BatchFormed' ? formed.requestIds : [];
    const refusedAt = decisions.findIndex((d) => d.type === 'RequestRejected');
    const rejected = decisions.slice(refusedAt).filter((d) => d.type === 'RequestRejected');
    expect(rejected.map((d) => d.type === 'RequestRejected' && d.requestId)).toEqual(members);
    for (const d of rejected) {
      if (d.type !== 'RequestRejected') continue;
      expect(d).toMatchObject({ model: 'm', reason: 'out of memory', tenant: Number(d.requestId.slice(1)) % 2 === 0 ? 'acme' : 'globex' });
    }
    // Then the batch's slot is given back, and replay makes the same decisions.
    expect(decisions.slice(refusedAt).some((d) => d.type === 'BatchCompleted')).toBe(true);
    expect(replay(turns).map(canonicalJson)).toEqual(decisions.map(canonicalJson));
  });

  it('batches, places, completes and evicts like the dispatcher', () => {
    const commands: Command[] = [
      { kind: 'heartbeat', worker: 0, dt: 0 },
      { kind: 'heartbeat', worker: 1, dt: 0 },
      ...Array.from({ length: 6 }, (): Command => ({ kind: 'request', sloClass: 'batch', deadlineMs: 2_000, dt: 1 })),
      { kind: 'complete', pick: 0, dt: 10 },
      { kind: 'heartbeat', worker: 1, dt: 2_000 },
      { kind: 'heartbeat', worker: 1, dt: 2_000 },
      { kind: 'tick', dt: 2_000 },
    ];
    const { decisions } = live(commands);
    const types = decisions.map((d) => d.type);
    for (const t of ['WorkerJoined', 'BatchFormed', 'BatchAssigned', 'BatchCompleted', 'WorkerEvicted'] as const) expect(types).toContain(t);
    // Worker 0 stopped heartbeating; worker 1 did not.
    expect(decisions.filter((d) => d.type === 'WorkerEvicted').map((d) => d.type === 'WorkerEvicted' && d.workerId)).toEqual(['w0']);
  });

  it('a recorded timer firing the re-decided batcher never armed is a divergence', () => {
    const core = createDispatchCore({ startMs: 0, onDecision: () => undefined });
    expect(() => core.apply({ atMs: 5, wake: true })).toThrow(ReplayDivergence);
  });

  it('a different tunable re-decides differently (verification has teeth)', () => {
    const commands: Command[] = [
      { kind: 'heartbeat', worker: 0, dt: 0 },
      ...Array.from({ length: 12 }, (): Command => ({ kind: 'request', sloClass: 'batch', deadlineMs: 2_000, dt: 1 })),
      { kind: 'tick', dt: 50 },
    ];
    const run = live(commands);
    const other: SchedulerEvent[] = [];
    const core = createDispatchCore({ startMs: 0, queuePolicy: { maxQueueSize: 2 }, onDecision: (e) => other.push(e) });
    for (const t of run.turns) core.apply(t);
    expect(other.map(canonicalJson)).not.toEqual(run.decisions.map(canonicalJson));
  });
});
