import { describe, expect, it } from 'vitest';
import { step } from '../../../src/domain/decider.js';
import { copyState, createBatcher, snapshotOf, type BatcherState } from '../../../src/processors/batching/batcher.js';
import type { BatcherEvent } from '../../../src/processors/batching/batcher-event.js';
import type { BatcherInput } from '../../../src/processors/batching/batcher-input.js';
import { arrived, capacity, manifest, prepared, request } from './helpers.js';

/** given(state).when(inputs at times) → all decided events, and the state after. */
function when(batcher: ReturnType<typeof createBatcher>, state: BatcherState, inputs: Array<[number, BatcherInput]>) {
  const events: BatcherEvent[] = [];
  let s = state;
  for (const [at, input] of inputs) {
    const r = step(batcher, s, input, at);
    events.push(...r.events);
    s = r.state;
  }
  return { events, state: s };
}

const domain = (events: readonly BatcherEvent[]) => events.filter((e) => e.type === 'BatchFormed' || e.type === 'RequestRejected');

describe('batcher decider', () => {
  it('caps the batch at what the device memory budget holds', () => {
    const batcher = createBatcher();
    const state = prepared(batcher, { manifest: { maxBatchSize: 64, memoryPerSampleBytes: 2 ** 30 }, memoryBudgetBytes: 10 * 2 ** 30 });
    const inputs: Array<[number, BatcherInput]> = Array.from({ length: 12 }, (_, i) => [1, arrived(request(`r${i}`))]);
    const { events } = when(batcher, state, [...inputs, [2, capacity(1)]]);
    const formed = events.filter((e) => e.type === 'BatchFormed');
    expect(formed).toHaveLength(1);
    expect(formed[0]).toMatchObject({ reason: 'FULL', requestIds: ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9'] });
  });

  it('rejects requests for a model whose one sample does not fit the budget, and for an unknown model', () => {
    const batcher = createBatcher();
    const state = prepared(batcher, { manifest: { memoryPerSampleBytes: 2 ** 31 }, memoryBudgetBytes: 2 ** 30 });
    const { events } = when(batcher, state, [
      [1, arrived(request('a'))],
      [1, arrived(request('b', { model: 'nope' }))],
    ]);
    expect(domain(events)).toMatchObject([
      // Never in a scheduler's batch: a fold of the log has nothing to look up for these.
      { type: 'RequestRejected', requestId: 'a', reason: expect.stringContaining('memory budget'), leavesBatch: false },
      { type: 'RequestRejected', requestId: 'b', reason: 'no manifest for model nope', leavesBatch: false },
    ]);
  });

  it('routes a request without a version to the version of the latest manifest', () => {
    const batcher = createBatcher();
    let state = prepared(batcher, { manifest: { version: '1' } });
    state = step(batcher, state, { type: 'ManifestUpdated', manifest: manifest({ version: '2', maxQueueDelayMs: 0 }), memoryBudgetBytes: Infinity, inputRef: 'manifests:0:1' }, 0).state;
    const { events } = when(batcher, state, [[1, capacity(1)], [2, arrived(request('a'))], [2, arrived(request('b', { modelVersion: '1' }))]]);
    expect(domain(events)).toMatchObject([{ type: 'BatchFormed', modelVersion: '2', requestIds: ['a'] }]);
  });

  it('retiring a model rejects what waits for any of its versions, clears their timers, and refuses what comes after', () => {
    const batcher = createBatcher();
    let state = prepared(batcher, { manifest: { version: '1', maxQueueDelayMs: 50 } });
    state = step(batcher, state, { type: 'ManifestUpdated', manifest: manifest({ version: '2', maxQueueDelayMs: 50 }), memoryBudgetBytes: Infinity, inputRef: 'manifests:0:1' }, 0).state;
    state = step(batcher, state, { type: 'ManifestUpdated', manifest: manifest({ model: 'other', maxQueueDelayMs: 50 }), memoryBudgetBytes: Infinity, inputRef: 'manifests:1:0' }, 0).state;
    const { events, state: after } = when(batcher, copyState(state), [
      [1, arrived(request('a', { modelVersion: '1' }))],
      [1, arrived(request('b'))],
      [1, arrived(request('c', { model: 'other' }))],
      [2, { type: 'ModelRetired', model: 'm', inputRef: 'manifests:0:2' }],
      [3, arrived(request('d'))],
    ]);
    const retiring = events.slice(events.findIndex((e) => e.type === 'RequestRejected'));
    expect(retiring).toEqual([
      expect.objectContaining({ type: 'RequestRejected', requestId: 'a', reason: 'model m was retired before the request was batched', inputs: ['manifests:0:2'] }),
      { type: 'FlushTimerSet', queue: 'm@1', atMs: null },
      { type: 'QueueRetired', queue: 'm@1' },
      expect.objectContaining({ type: 'RequestRejected', requestId: 'b', reason: 'model m was retired before the request was batched' }),
      { type: 'FlushTimerSet', queue: 'm@2', atMs: null },
      { type: 'QueueRetired', queue: 'm@2' },
      expect.objectContaining({ type: 'RequestRejected', requestId: 'd', reason: 'no manifest for model m' }),
    ]);
    expect(Object.keys(after.queues)).toEqual(['other@1']);
    expect(after.routes).toEqual({ other: '1' });
    expect(after.queues['other@1']!.requests.size).toBe(1);
    // A fold of the decided events reaches the same state.
    const folded = events.reduce((s, e) => batcher.evolve(s, e), copyState(state));
    expect(snapshotOf(folded)).toEqual(snapshotOf(after));
  });

  it('names the input a decision consumed, and a timer tick for timer decisions', () => {
    const batcher = createBatcher();
    const state = prepared(batcher, { manifest: { maxBatchSize: 2, maxQueueDelayMs: 5 }, capacity: 2 });
    const first = when(batcher, state, [[1, arrived(request('a'), 'inference.requests:0:41')], [1, arrived(request('b'), 'inference.requests:0:42')]]);
    expect(domain(first.events)).toMatchObject([{ type: 'BatchFormed', inputs: ['inference.requests:0:42'], atMs: 1 }]);
    const second = when(batcher, first.state, [[3, arrived(request('c'))], [8, { type: 'TimerFired', timer: { kind: 'flush', queue: 'm@1' } }]]);
    expect(domain(second.events)).toMatchObject([{ type: 'BatchFormed', reason: 'MAX_DELAY', inputs: ['tick:8'], requestIds: ['c'] }]);
  });

  it('asks for a flush timer at the earlier of the max delay and the latest start that meets the deadline', () => {
    const batcher = createBatcher({ defaults: { prior: { fixedMs: 4, perSampleMs: 1 }, headroom: 1 } });
    const state = prepared(batcher, { manifest: { maxBatchSize: 8, maxQueueDelayMs: 50 }, capacity: 1 });
    const { events } = when(batcher, state, [[10, arrived(request('a', { deadlineMs: 30 }))]]);
    // A batch of one takes 5 ms: it must start by 25, before the max delay (60).
    expect(events.filter((e) => e.type === 'FlushTimerSet')).toEqual([{ type: 'FlushTimerSet', queue: 'm@1', atMs: 25 }]);
  });

  it('replays: folding the recorded events gives the state the live decisions reached', () => {
    const batcher = createBatcher();
    const start = prepared(batcher, { manifest: { maxBatchSize: 3, maxQueueDelayMs: 2 }, policy: { timeoutMs: 30 } });
    const inputs: Array<[number, BatcherInput]> = [];
    for (let i = 0; i < 20; i++) inputs.push([i * 3, arrived(request(`r${i}`, { sloClass: (['realtime', 'interactive', 'batch'] as const)[i % 3], deadlineMs: 100 + i }))]);
    inputs.push([20, capacity(2)], [41, { type: 'TimerFired', timer: { kind: 'timeout', queue: 'm@1', requestId: 'r9' } }], [45, capacity(1)]);
    inputs.push([50, { type: 'BatchObserved', model: 'm', modelVersion: '1', batchSize: 3, serviceTimeMs: 7, inputRef: 'inference.results:0:1' }]);
    // evolve changes a state in place: each run starts from its own copy of the start.
    const live = when(batcher, copyState(start), inputs);
    const replayed = live.events.reduce(batcher.evolve, copyState(start));
    expect(snapshotOf(replayed)).toEqual(snapshotOf(live.state));
    expect(live.state.queues['m@1']!.requests.size).toBeGreaterThan(0);
    expect(JSON.stringify(when(batcher, copyState(start), inputs).events)).toBe(JSON.stringify(live.events));
  });

  it('hands the shell each formed batch with its requests, and the state its events fold to', () => {
    const batcher = createBatcher();
    const state = prepared(batcher, { manifest: { maxBatchSize: 2 } });
    const { state: waiting } = when(batcher, state, [[1, arrived(request('a'))], [1, arrived(request('b'))]]);
    const result = batcher.apply(copyState(waiting), capacity(1), 2);
    const formed = result.events.find((e) => e.type === 'BatchFormed');
    expect(formed?.type === 'BatchFormed' && result.members.get(formed.batchId)?.map((r) => r.requestId)).toEqual(['a', 'b']);
    expect(snapshotOf(result.events.reduce(batcher.evolve, copyState(waiting)))).toEqual(snapshotOf(result.state));
  });

  it('rejects everything still queued when it stops', () => {
    const batcher = createBatcher();
    const state = prepared(batcher);
    const { events, state: after } = when(batcher, state, [[1, arrived(request('a'))], [2, arrived(request('b'))], [3, { type: 'BatcherStopped', inputRef: 'stop' }]]);
    expect(domain(events).map((e) => e.type === 'RequestRejected' && e.requestId)).toEqual(['a', 'b']);
    expect(after.queues['m@1']!.requests.size).toBe(0);
  });

  it('decides without changing the state it is given', () => {
    const batcher = createBatcher({ defaults: { onTimeout: 'keep', timeoutMs: 5 } });
    const { state } = when(batcher, prepared(batcher, { manifest: { maxBatchSize: 2, maxQueueDelayMs: 50 } }), [
      [1, arrived(request('a', { sloClass: 'batch' }))],
      [2, arrived(request('b', { sloClass: 'realtime' }))],
      [3, arrived(request('c'))],
    ]);
    const before = snapshotOf(copyState(state));
    batcher.decide(state, { type: 'TimerFired', timer: { kind: 'timeout', queue: 'm@1', requestId: 'a' } }, 6);
    batcher.decide(state, capacity(1), 7);
    batcher.decide(state, { type: 'BatcherStopped', inputRef: 'stop' }, 8);
    expect(snapshotOf(state)).toEqual(before);
    // ... and the restored queue still draws in urgency order.
    const { events } = when(batcher, state, [[9, capacity(1)]]);
    expect(domain(events)).toMatchObject([{ type: 'BatchFormed', requestIds: ['b', 'c'] }]);
  });
});
