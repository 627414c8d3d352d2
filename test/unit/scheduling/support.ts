import { expect } from 'vitest';
import type { AnomalyAlert } from '../../../src/domain/events/anomaly.js';
import type { GpuSample, Heartbeat } from '../../../src/domain/events/telemetry.js';
import { step } from '../../../src/domain/decider.js';
import type { SchedulerFact } from '../../../src/processors/scheduling/facts.js';
import { isDecision } from '../../../src/processors/scheduling/facts.js';
import type { SchedulerInput, ReadyBatch } from '../../../src/processors/scheduling/inputs.js';
import type { BatchMemberRef } from '../../../src/processors/scheduling/records.js';
import { createScheduler, type SchedulerOptions } from '../../../src/processors/scheduling/scheduler.js';
import type { SchedulerState } from '../../../src/processors/scheduling/state.js';
import type { TopologyLink } from '../../../src/processors/scheduling/topology.js';

export const GiB = 2 ** 30;

let ref = 0;
const nextRef = (): string => `test:0:${ref++}`;

export function heartbeat(
  workerId: string,
  opts: { epoch?: number; devices?: Array<string | { uuid: string; memTotalBytes: number }>; models?: string[]; capacity?: number; inFlight?: number; topology?: TopologyLink[] } = {},
): SchedulerInput {
  const devices = (opts.devices ?? [`${workerId}-gpu0`]).map((d, index) => {
    const { uuid, memTotalBytes } = typeof d === 'string' ? { uuid: d, memTotalBytes: 80 * GiB } : d;
    return { uuid, index, name: 'H100', memTotalBytes, pciBusId: `0000:0${index}:00.0`, simulated: true };
  });
  const hb: Heartbeat = {
    workerId,
    epoch: opts.epoch ?? 1,
    node: `node-${workerId}`,
    timestampMs: 0,
    devices,
    loadedModels: opts.models ?? ['resnet'],
    inFlightBatches: opts.inFlight ?? 0,
    capacity: opts.capacity ?? 8,
  };
  return { type: 'HeartbeatReceived', inputRef: nextRef(), heartbeat: hb, ...(opts.topology ? { topology: opts.topology } : {}) };
}

export function telemetry(deviceUuid: string, freeBytes: number, atMs = 0): SchedulerInput {
  const sample: GpuSample = {
    deviceUuid,
    deviceIndex: 0,
    deviceName: 'H100',
    pciBusId: '0000:00:00.0',
    node: 'n',
    timestampMs: atMs,
    memTotalBytes: 80 * GiB,
    memUsedBytes: 80 * GiB - freeBytes,
    memFreeBytes: freeBytes,
    gpuUtil: 50,
    memUtil: 50,
    temperatureC: 60,
    powerW: 300,
    smClockMhz: 1800,
    memClockMhz: 2600,
    eccErrors: 0,
    simulated: true,
  };
  return { type: 'TelemetryReceived', inputRef: nextRef(), sample };
}

export function alert(deviceUuid: string, state: 'RAISED' | 'CLEARED', kind: AnomalyAlert['kind'] = 'OOM_RISK'): SchedulerInput {
  return {
    type: 'AnomalyReceived',
    inputRef: nextRef(),
    alert: { deviceUuid, state, kind, lofScore: 3, predictedTimeToOomMs: 5000, memUsedFraction: 0.9, timestampMs: 0, reason: 'test' },
  };
}

export function member(requestId: string, opts: Partial<BatchMemberRef> = {}): BatchMemberRef {
  return { requestId, tenant: 'acme', sloClass: 'interactive', deadlineMs: 1_000_000, ...opts };
}

export function ready(batchId: string, opts: Partial<ReadyBatch> & { size?: number } = {}): SchedulerInput {
  const { size, ...rest } = opts;
  const members = rest.members ?? Array.from({ length: size ?? 2 }, (_, i) => member(`${batchId}-r${i}`));
  return {
    type: 'BatchReady',
    inputRef: nextRef(),
    batch: { batchId, model: 'resnet', modelVersion: '1', memoryPerSampleBytes: GiB, ...rest, members },
  };
}

export function completed(batchId: string, workerId: string, workerEpoch = 1, serviceTimeUs = 10_000): SchedulerInput {
  return { type: 'BatchCompleted', inputRef: nextRef(), batchId, workerId, workerEpoch, serviceTimeUs };
}

export function failed(batchId: string, workerId: string, workerEpoch = 1, reason = 'CUDA out of memory'): SchedulerInput {
  return { type: 'BatchFailed', inputRef: nextRef(), batchId, workerId, workerEpoch, reason };
}

export function tick(): SchedulerInput {
  return { type: 'Tick', inputRef: `tick:${ref++}` };
}

/** Decides inputs at their times, one after another, from `state`: the state reached and the facts decided. */
export function decideAll(scheduler: ReturnType<typeof createScheduler>, state: SchedulerState, inputs: ReadonlyArray<[number, SchedulerInput]>): { state: SchedulerState; facts: SchedulerFact[] } {
  const facts: SchedulerFact[] = [];
  for (const [now, input] of inputs) {
    const r = step(scheduler, state, input, now);
    state = r.state;
    facts.push(...r.events);
  }
  return { state, facts };
}

/** A history of inputs at times, run through the decider; its facts are a "given". */
export function recorded(inputs: Array<[number, SchedulerInput]>, options: SchedulerOptions = {}): SchedulerFact[] {
  const scheduler = createScheduler(options);
  return decideAll(scheduler, scheduler.initialState(), inputs).facts;
}

/**
 * given(facts).when(input, now).then(decisions): folds the facts, decides the input, and
 * compares the decisions (the scheduler.events part) with the expected ones, field by field.
 */
export function given(facts: SchedulerFact[], options: SchedulerOptions = {}) {
  const scheduler = createScheduler(options);
  let state: SchedulerState = scheduler.initialState();
  for (const f of facts) state = scheduler.evolve(state, f);
  return {
    state,
    when(input: SchedulerInput, now: number) {
      const facts = scheduler.decide(state, input, now);
      return {
        facts,
        then(expected: Array<Record<string, unknown>>) {
          expect(facts.filter(isDecision)).toMatchObject(expected);
          expect(facts.filter(isDecision)).toHaveLength(expected.length);
          return facts;
        },
      };
    },
  };
}
