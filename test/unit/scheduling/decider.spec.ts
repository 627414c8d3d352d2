import { describe, expect, it } from 'vitest';
import { isDecision } from '../../../src/processors/scheduling/facts.js';
import { alert, completed, failed, GiB, given, heartbeat, member, ready, recorded, telemetry, tick } from './support.js';

// Each rule as given(facts).when(input).then(decisions). Facts come from recorded inputs, so a
// "given" reads as the history the scheduler saw. Default liveness timeout 5 s, cold load 3 s,
// prior service time 5 ms + 1 ms per sample.

describe('membership', () => {
  it('a first heartbeat joins the worker with its devices', () => {
    given([]).when(heartbeat('w1', { devices: ['g1', 'g0'] }), 0).then([
      { type: 'WorkerJoined', workerId: 'w1', workerEpoch: 1, deviceUuids: ['g0', 'g1'], atMs: 0 },
    ]);
  });

  it('a heartbeat of the live incarnation decides nothing', () => {
    given(recorded([[0, heartbeat('w1')]])).when(heartbeat('w1'), 1000).then([]);
  });

  it('no heartbeat within the timeout evicts the worker and requeues its batches elsewhere', () => {
    const history = recorded([
      [0, heartbeat('w1')],
      [0, ready('b1')],
      [4000, heartbeat('w2')],
    ]);
    expect(history.filter(isDecision).find((e) => e.type === 'BatchAssigned')).toMatchObject({ workerId: 'w1' });
    given(history).when(tick(), 5001).then([
      { type: 'BatchRequeued', batchId: 'b1', requestIds: ['b1-r0', 'b1-r1'] },
      { type: 'WorkerEvicted', workerId: 'w1', workerEpoch: 1, reason: expect.stringContaining('liveness timeout 5000 ms') },
      { type: 'BatchAssigned', batchId: 'b1', workerId: 'w2', deviceUuid: 'w2-gpu0' },
    ]);
  });

  it('exactly at the timeout the worker is still live', () => {
    given(recorded([[0, heartbeat('w1')]])).when(tick(), 5000).then([]);
  });

  it('a higher epoch is a new incarnation: the old one is evicted and its batches requeued', () => {
    const history = recorded([
      [0, heartbeat('w1')],
      [0, ready('b1')],
    ]);
    given(history).when(heartbeat('w1', { epoch: 2 }), 100).then([
      { type: 'BatchRequeued', batchId: 'b1', reason: expect.stringContaining('new incarnation') },
      { type: 'WorkerEvicted', workerId: 'w1', workerEpoch: 1 },
      { type: 'WorkerJoined', workerId: 'w1', workerEpoch: 2 },
      { type: 'BatchAssigned', batchId: 'b1', workerId: 'w1', workerEpoch: 2 },
    ]);
  });

  it('a heartbeat from an older incarnation is ignored', () => {
    given(recorded([[0, heartbeat('w1', { epoch: 3 })]])).when(heartbeat('w1', { epoch: 2 }), 10).then([]);
  });

  it('an evicted incarnation is fenced: its later heartbeats do not rejoin it', () => {
    const history = recorded([
      [0, heartbeat('w1')],
      [6000, tick()],
    ]);
    given(history).when(heartbeat('w1', { epoch: 1 }), 6100).then([]);
    given(history).when(heartbeat('w1', { epoch: 2 }), 6100).then([{ type: 'WorkerJoined', workerId: 'w1', workerEpoch: 2 }]);
  });

  it('a late result from an evicted incarnation is discarded, never delivered', () => {
    const history = recorded([
      [0, heartbeat('w1')],
      [0, ready('b1')],
      [100, heartbeat('w1', { epoch: 2 })],
    ]);
    const r = given(history).when(completed('b1', 'w1', 1), 200);
    r.then([]);
    expect(r.facts).toMatchObject([{ type: 'ResultDiscarded', batchId: 'b1', workerEpoch: 1, outcome: 'COMPLETED', reason: expect.stringContaining('epoch 2') }]);
  });

  it('a duplicate completion is discarded', () => {
    const history = recorded([
      [0, heartbeat('w1')],
      [0, ready('b1')],
      [50, completed('b1', 'w1')],
    ]);
    const r = given(history).when(completed('b1', 'w1'), 60);
    r.then([]);
    expect(r.facts[0]).toMatchObject({ type: 'ResultDiscarded', reason: expect.stringContaining('not in flight') });
  });
});

describe('results', () => {
  it('a completion from the live assignment completes the batch and frees room for a waiting one', () => {
    // One device with 10 GiB: each 2-sample batch at 4 GiB per sample needs 8 GiB.
    const history = recorded([
      [0, heartbeat('w1', { devices: [{ uuid: 'g0', memTotalBytes: 10 * GiB }] })],
      [0, ready('b1', { memoryPerSampleBytes: 4 * GiB })],
      [1, ready('b2', { memoryPerSampleBytes: 4 * GiB })],
    ]);
    expect(history.filter((f) => f.type === 'BatchAssigned')).toHaveLength(1);
    given(history).when(completed('b1', 'w1', 1, 12_000), 20).then([
      { type: 'BatchCompleted', batchId: 'b1', workerId: 'w1', workerEpoch: 1, serviceTimeUs: 12_000 },
      { type: 'BatchAssigned', batchId: 'b2', deviceUuid: 'g0', reservedBytes: 8 * GiB },
    ]);
  });

  it('a failed batch is requeued and placed again', () => {
    const history = recorded([
      [0, heartbeat('w1')],
      [0, ready('b1')],
    ]);
    given(history).when(failed('b1', 'w1'), 10).then([
      { type: 'BatchRequeued', batchId: 'b1', reason: expect.stringContaining('attempt 1 of 3') },
      { type: 'BatchAssigned', batchId: 'b1', workerId: 'w1' },
    ]);
  });

  it('a batch that failed on its last attempt has its requests rejected with the reason', () => {
    const history = recorded([
      [0, heartbeat('w1')],
      [0, ready('b1')],
      [10, failed('b1', 'w1')],
      [20, failed('b1', 'w1')],
    ]);
    given(history).when(failed('b1', 'w1', 1, 'illegal memory access'), 30).then([
      { type: 'RequestRejected', requestId: 'b1-r0', reason: expect.stringContaining('illegal memory access'), leavesBatch: true },
      { type: 'RequestRejected', requestId: 'b1-r1', reason: expect.stringContaining('failed 3 of 3'), leavesBatch: true },
    ]);
  });
});

describe('placement', () => {
  it('memory fit uses the latest telemetry minus in-flight reservations', () => {
    const history = recorded([
      [0, heartbeat('w1', { devices: ['a'] })],
      [0, heartbeat('w2', { devices: ['b'] })],
      [1, telemetry('a', 5 * GiB)],
      [1, telemetry('b', 12 * GiB)],
      [2, ready('b1', { memoryPerSampleBytes: 2 * GiB, size: 2 })], // 4 GiB: a (tie on work, uuid a)
      [3, ready('b2', { memoryPerSampleBytes: 2 * GiB, size: 2 })], // b has less work now
    ]);
    expect(history.filter((f) => f.type === 'BatchAssigned').map((f) => (f as { deviceUuid: string }).deviceUuid)).toEqual(['a', 'b']);
    // a has 1 GiB left after its reservation, b 8 GiB: 6 GiB fits only b, though b has more work.
    given(history).when(ready('b3', { memoryPerSampleBytes: 3 * GiB, size: 2 }), 4).then([{ type: 'BatchAssigned', batchId: 'b3', deviceUuid: 'b', reservedBytes: 6 * GiB }]);
  });

  it('a batch that fits nowhere waits, and is placed when a worker joins', () => {
    const history = recorded([
      [0, heartbeat('w1', { devices: [{ uuid: 'small', memTotalBytes: 4 * GiB }] })],
      [1, ready('big', { memoryPerSampleBytes: 4 * GiB, size: 2 })],
    ]);
    expect(history.filter(isDecision).map((e) => e.type)).toEqual(['WorkerJoined']);
    given(history).when(heartbeat('w2', { devices: ['large'] }), 2).then([
      { type: 'WorkerJoined', workerId: 'w2' },
      { type: 'BatchAssigned', batchId: 'big', deviceUuid: 'large' },
    ]);
  });

  it('model affinity: a device with the model loaded wins while its queue is shorter than a cold load', () => {
    const history = recorded([
      [0, heartbeat('warm', { devices: ['warm-0'], models: ['llm'] })],
      [0, heartbeat('cold', { devices: ['cold-0'], models: [] })],
      [1, ready('b1', { model: 'llm', size: 1 })],
    ]);
    expect(history.find((f) => f.type === 'BatchAssigned')).toMatchObject({ deviceUuid: 'warm-0' });
    // warm-0 now has 6 ms of work, still far less than a 3 s cold load.
    given(history).when(ready('b2', { model: 'llm', size: 1 }), 2).then([{ type: 'BatchAssigned', deviceUuid: 'warm-0' }]);
  });

  it('model affinity: the cold load is paid when the warm device is busier than the load costs', () => {
    const opts = { config: { coldLoadMs: 10 } };
    const history = recorded(
      [
        [0, heartbeat('warm', { devices: ['warm-0'], models: ['llm'] })],
        [0, heartbeat('cold', { devices: ['cold-0'], models: [] })],
        [1, ready('b1', { model: 'llm', size: 8 })], // 13 ms of work on warm-0
      ],
      opts,
    );
    given(history, opts).when(ready('b2', { model: 'llm', size: 1 }), 2).then([{ type: 'BatchAssigned', deviceUuid: 'cold-0' }]);
  });

  it('least outstanding work among fitting devices', () => {
    const history = recorded([
      [0, heartbeat('w1', { devices: ['a', 'b', 'c'] })],
      [1, ready('b1', { size: 4 })],
      [2, ready('b2', { size: 1 })],
    ]);
    expect(history.filter((f) => f.type === 'BatchAssigned').map((f) => (f as { deviceUuid: string }).deviceUuid)).toEqual(['a', 'b']);
    given(history).when(ready('b3', { size: 1 }), 3).then([{ type: 'BatchAssigned', deviceUuid: 'c' }]);
  });

  it('never a device under an active out-of-memory alert; placed there again once it clears', () => {
    const history = recorded([
      [0, heartbeat('w1', { devices: ['a'] })],
      [1, alert('a', 'RAISED')],
      [2, ready('b1')],
    ]);
    expect(history.filter((f) => f.type === 'BatchAssigned')).toHaveLength(0);
    given(history).when(alert('a', 'CLEARED'), 3).then([{ type: 'BatchAssigned', batchId: 'b1', deviceUuid: 'a' }]);
  });

  it('an outlier alert that is not an out-of-memory risk does not block a device', () => {
    const history = recorded([
      [0, heartbeat('w1', { devices: ['a'] })],
      [1, alert('a', 'RAISED', 'OUTLIER')],
    ]);
    given(history).when(ready('b1'), 2).then([{ type: 'BatchAssigned', deviceUuid: 'a' }]);
  });

  it('a worker with no free slot gets no batch', () => {
    const history = recorded([
      [0, heartbeat('w1', { devices: ['a'], capacity: 1 })],
      [0, heartbeat('w2', { devices: ['b'], capacity: 1 })],
      [1, ready('b1', { size: 1 })],
      [1, ready('b2', { size: 1 })],
    ]);
    given(history).when(ready('b3', { size: 1 }), 2).then([]);
  });

  it('a multi-GPU model gets the NVLink pair before a PCIe pair or a pair across NUMA nodes', () => {
    const topology = [
      { a: 'g0', b: 'g1', level: 'SYSTEM' as const },
      { a: 'g0', b: 'g2', level: 'PCIE_SWITCH' as const },
      { a: 'g1', b: 'g3', level: 'NVLINK' as const },
      { a: 'g2', b: 'g3', level: 'NUMA_NODE' as const },
    ];
    const history = recorded([[0, heartbeat('w1', { devices: ['g0', 'g1', 'g2', 'g3'], topology })]]);
    given(history).when(ready('tp', { gpusPerReplica: 2, size: 1 }), 1).then([{ type: 'BatchAssigned', batchId: 'tp', deviceUuid: 'g1,g3' }]);
  });

  it('with no NVLink the PCIe-switch pair wins over a pair on the same NUMA node', () => {
    const topology = [
      { a: 'g0', b: 'g1', level: 'NUMA_NODE' as const },
      { a: 'g2', b: 'g3', level: 'PCIE_SWITCH' as const },
    ];
    const history = recorded([[0, heartbeat('w1', { devices: ['g0', 'g1', 'g2', 'g3'], topology })]]);
    given(history).when(ready('tp', { gpusPerReplica: 2, size: 1 }), 1).then([{ type: 'BatchAssigned', deviceUuid: 'g2,g3' }]);
  });

  it('a single PCIe card with no topology takes one-GPU batches, and a two-GPU model waits', () => {
    const history = recorded([[0, heartbeat('w1', { devices: ['only'], topology: [] })]]);
    given(history).when(ready('one', { size: 1 }), 1).then([{ type: 'BatchAssigned', deviceUuid: 'only' }]);
    given(history).when(ready('two', { gpusPerReplica: 2, size: 1 }), 1).then([]);
  });
});

describe('admission and deadlines', () => {
  it('a request whose deadline no placement can meet is rejected at once with the reason; the rest go on', () => {
    const history = recorded([[0, heartbeat('w1')]]);
    // 2 members: 5 + 2 ms predicted service.
    given(history)
      .when(ready('b1', { members: [member('late', { deadlineMs: 1005 }), member('ok', { deadlineMs: 1010 })] }), 1000)
      .then([
        { type: 'RequestRejected', requestId: 'late', tenant: 'acme', reason: expect.stringContaining('deadline cannot be met'), leavesBatch: false },
        { type: 'BatchAssigned', batchId: 'b1' },
      ]);
  });

  it('a cold load counts when no device has the model loaded', () => {
    const history = recorded([[0, heartbeat('w1', { models: [] })]]);
    given(history)
      .when(ready('b1', { model: 'new', members: [member('r', { deadlineMs: 1000 + 2000 })] }), 1000)
      .then([{ type: 'RequestRejected', requestId: 'r', reason: expect.stringMatching(/earliest completion in 3006 ms/), leavesBatch: false }]);
  });

  it('service time is learned per model version: a slow canary does not make the stable version look slow', () => {
    // Version 2 took 1 s for one sample: its estimate becomes 5 + 199.8 ms a sample (EWMA 0.2).
    const history = recorded([
      [0, heartbeat('w1')],
      [0, ready('c1', { modelVersion: '2', size: 1 })],
      [10, completed('c1', 'w1', 1, 1_000_000)],
    ]);
    given(history).when(ready('s1', { members: [member('stable', { deadlineMs: 1010 })] }), 1000).then([{ type: 'BatchAssigned', batchId: 's1' }]);
    given(history)
      .when(ready('c2', { modelVersion: '2', members: [member('canary', { deadlineMs: 1010 })] }), 1000)
      .then([{ type: 'RequestRejected', requestId: 'canary', reason: expect.stringMatching(/earliest completion in 205 ms/), leavesBatch: false }]);
  });

  it('a waiting request whose deadline passes is rejected on a tick', () => {
    // The only worker has the model loaded but no free slot: the batch waits.
    const history = recorded([
      [0, heartbeat('w1', { capacity: 0 })],
      [0, ready('b1', { members: [member('soon', { deadlineMs: 100 }), member('later', { deadlineMs: 100_000 })] })],
    ]);
    expect(history.filter(isDecision).map((e) => e.type)).toEqual(['WorkerJoined']);
    given(history).when(tick(), 90).then([]);
    given(history).when(tick(), 95).then([{ type: 'RequestRejected', requestId: 'soon', reason: expect.stringContaining('deadline cannot be met'), leavesBatch: true }]);
  });

  it('waiting batches are placed by SLO class, then earliest deadline', () => {
    const history = recorded([
      [0, heartbeat('w1', { devices: ['a'], capacity: 1 })],
      [1, ready('running', { size: 1 })],
      [2, ready('batch-early', { members: [member('x', { sloClass: 'batch', deadlineMs: 50_000 })] })],
      [3, ready('inter-late', { members: [member('y', { sloClass: 'interactive', deadlineMs: 90_000 })] })],
      [4, ready('inter-early', { members: [member('z', { sloClass: 'interactive', deadlineMs: 60_000 })] })],
    ]);
    given(history).when(completed('running', 'w1'), 10).then([
      { type: 'BatchCompleted', batchId: 'running' },
      { type: 'BatchAssigned', batchId: 'inter-early' },
    ]);
  });
});
