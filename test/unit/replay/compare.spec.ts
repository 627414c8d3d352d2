import { describe, expect, it } from 'vitest';
import type { SchedulerEvent } from '../../../src/domain/events/scheduler.js';
import { canonicalJson, verifyDecisions, type RecordedDecision } from '../../../src/replay/compare.js';

const formed = (id: number, model: string, atMs: number): SchedulerEvent => ({ type: 'BatchFormed', batchId: `${model}#${id}`, model, modelVersion: '1', requestIds: [`r${id}`], reason: 'CAPACITY', atMs, inputs: [`tick:${atMs}`] });
const joined = (workerId: string, atMs: number): SchedulerEvent => ({ type: 'WorkerJoined', workerId, workerEpoch: 1, deviceUuids: ['g'], atMs, inputs: ['gpu.heartbeats:0:1'] });
const recorded = (events: SchedulerEvent[]): RecordedDecision[] => events.map((event, i) => ({ position: `scheduler.events:0:${i}`, event }));

describe('verifyDecisions', () => {
  const events = [joined('w1', 1), formed(1, 'a', 2), formed(1, 'b', 3), formed(2, 'a', 4)];

  it('finds no difference between the same decisions, whatever the order across keys or of fields', () => {
    const reordered = [events[0]!, events[2]!, events[1]!, events[3]!].map((e) => JSON.parse(canonicalJson(e)) as SchedulerEvent);
    expect(verifyDecisions(recorded(events), reordered)).toEqual({ decisions: 4, difference: null });
  });

  it('reports the earliest first difference with where it was recorded', () => {
    const changed = [events[0]!, events[1]!, { ...events[2]!, atMs: 9 } as SchedulerEvent, { ...events[3]!, reason: 'FULL' } as SchedulerEvent];
    const { difference } = verifyDecisions(recorded(events), changed);
    expect(difference).toMatchObject({ key: 'b', index: 0, position: 'scheduler.events:0:2', expected: events[2], got: changed[2] });
  });

  it('reports decisions missing on either side', () => {
    expect(verifyDecisions(recorded(events), events.slice(0, 3)).difference).toMatchObject({ key: 'a', index: 1, got: null, expected: events[3] });
    expect(verifyDecisions(recorded(events.slice(0, 3)), events).difference).toMatchObject({ key: 'a', index: 1, position: null, expected: null, got: events[3] });
  });
});
