import fc from 'fast-check';
import { step } from '../../../src/domain/decider.js';
import type { SchedulerFact } from '../../../src/processors/scheduling/facts.js';
import type { SchedulerInput } from '../../../src/processors/scheduling/inputs.js';
import { createScheduler, type SchedulerOptions } from '../../../src/processors/scheduling/scheduler.js';
import type { SchedulerState } from '../../../src/processors/scheduling/state.js';
import { alert, completed, failed, GiB, heartbeat, member, ready, telemetry, tick } from './support.js';

/**
 * Random workloads for property tests: commands that a driver turns into inputs against the
 * live run (a completion names a batch actually in flight), with worker crashes, restarts,
 * failures, late results from dead incarnations, alerts and memory pressure.
 */
export type Command =
  | { kind: 'heartbeat'; worker: number; dt: number }
  | { kind: 'restart'; worker: number; dt: number }
  | { kind: 'silence'; dt: number }
  | { kind: 'telemetry'; worker: number; device: number; freeGiB: number; dt: number }
  | { kind: 'ready'; model: number; size: number; perSampleGiB: number; tenant: number; sloClass: number; slackMs: number; gpus: number; dt: number }
  | { kind: 'complete'; pick: number; stale: boolean; dt: number }
  | { kind: 'fail'; pick: number; dt: number }
  | { kind: 'alert'; worker: number; device: number; raised: boolean; dt: number }
  | { kind: 'tick'; dt: number };

const dt = fc.integer({ min: 0, max: 400 });
const worker = fc.integer({ min: 0, max: 3 });
const device = fc.integer({ min: 0, max: 1 });

export const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), worker, dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), worker, dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('silence' as const), dt: fc.integer({ min: 1000, max: 7000 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('telemetry' as const), worker, device, freeGiB: fc.integer({ min: 0, max: 24 }), dt }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('ready' as const),
      model: fc.integer({ min: 0, max: 2 }),
      size: fc.integer({ min: 1, max: 6 }),
      perSampleGiB: fc.integer({ min: 1, max: 4 }),
      tenant: fc.integer({ min: 0, max: 2 }),
      sloClass: fc.integer({ min: 0, max: 2 }),
      slackMs: fc.integer({ min: 0, max: 6000 }),
      gpus: fc.constantFrom(1, 1, 1, 2),
      dt,
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat(), stale: fc.boolean(), dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), pick: fc.nat(), dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('alert' as const), worker, device, raised: fc.boolean(), dt }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), dt }) },
);

export interface Run {
  inputs: Array<[number, SchedulerInput]>;
  facts: SchedulerFact[];
  state: SchedulerState;
  /** Request ids the run submitted. */
  submitted: string[];
}

/** Drives the scheduler with commands; every decision is kept with the input that caused it. */
export function drive(commands: Command[], options: SchedulerOptions = {}): Run {
  const scheduler = createScheduler({ config: { maxPlacementMisses: 4, ...options.config }, ...(options.index ? { index: options.index } : {}) });
  let state = scheduler.initialState();
  const facts: SchedulerFact[] = [];
  const inputs: Array<[number, SchedulerInput]> = [];
  const submitted: string[] = [];
  const epochs = [1, 1, 1, 1];
  let now = 0;
  let nextBatch = 0;
  const apply = (raw: SchedulerInput): void => {
    // Refs as the live shell would record them: an offset per input, or the tick's time.
    const input = { ...raw, inputRef: raw.type === 'Tick' ? `tick:${now}` : `workload:0:${inputs.length}` };
    inputs.push([now, input]);
    const r = step(scheduler, state, input, now);
    state = r.state;
    facts.push(...r.events);
  };
  const devices = (w: number) => [{ uuid: `w${w}-g0`, memTotalBytes: 24 * GiB }, { uuid: `w${w}-g1`, memTotalBytes: 24 * GiB }];
  const models = (w: number) => [['m0', 'm1'], ['m1'], ['m2', 'm0'], []][w] as string[];
  const topology = (w: number) => (w % 2 === 0 ? [{ a: `w${w}-g0`, b: `w${w}-g1`, level: 'NVLINK' as const }] : []);
  for (const c of commands) {
    now += c.dt;
    switch (c.kind) {
      case 'heartbeat':
        apply(heartbeat(`w${c.worker}`, { epoch: epochs[c.worker], devices: devices(c.worker), models: models(c.worker), capacity: 3, topology: topology(c.worker) }));
        break;
      case 'restart':
        epochs[c.worker] = (epochs[c.worker] as number) + 1;
        apply(heartbeat(`w${c.worker}`, { epoch: epochs[c.worker], devices: devices(c.worker), models: models(c.worker), capacity: 3, topology: topology(c.worker) }));
        break;
      case 'silence':
        apply(tick());
        break;
      case 'telemetry':
        apply(telemetry(`w${c.worker}-g${c.device}`, c.freeGiB * GiB, now));
        break;
      case 'ready': {
        const id = `b${nextBatch++}`;
        const members = Array.from({ length: c.size }, (_, i) => {
          const requestId = `${id}-r${i}`;
          submitted.push(requestId);
          return member(requestId, { tenant: `t${c.tenant}`, sloClass: ['realtime', 'interactive', 'batch'][c.sloClass] as string, deadlineMs: now + c.slackMs + i });
        });
        apply(ready(id, { model: `m${c.model}`, memoryPerSampleBytes: c.perSampleGiB * GiB, members, gpusPerReplica: c.gpus }));
        break;
      }
      case 'complete':
      case 'fail': {
        const flying = [...state.inFlight.rows.values()].sort((a, b) => (a.batch.batchId < b.batch.batchId ? -1 : 1));
        const flight = flying[c.pick % Math.max(1, flying.length)];
        if (!flight) {
          apply(tick());
          break;
        }
        const epoch = c.kind === 'complete' && c.stale ? flight.workerEpoch - 1 : flight.workerEpoch;
        apply(c.kind === 'complete' ? completed(flight.batch.batchId, flight.workerId, epoch, 5_000 + 1_000 * flight.batch.members.length) : failed(flight.batch.batchId, flight.workerId, epoch));
        break;
      }
      case 'alert':
        apply(alert(`w${c.worker}-g${c.device}`, c.raised ? 'RAISED' : 'CLEARED'));
        break;
      case 'tick':
        apply(tick());
        break;
    }
  }
  return { inputs, facts, state, submitted };
}
