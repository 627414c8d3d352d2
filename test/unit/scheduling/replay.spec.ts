import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { step } from '../../../src/domain/decider.js';
import { ValidationError } from '../../../src/domain/errors.js';
import { isDecision, type SchedulerFact } from '../../../src/processors/scheduling/facts.js';
import { createScheduler } from '../../../src/processors/scheduling/scheduler.js';
import { restore, snapshot } from '../../../src/processors/scheduling/state.js';
import { command, drive } from './workload.js';

const workloads = fc.array(command, { minLength: 10, maxLength: 160 });
const json = (x: unknown): string => JSON.stringify(x);

describe('replay', () => {
  it('folding the recorded facts with evolve rebuilds the same state', () => {
    fc.assert(
      fc.property(workloads, (commands) => {
        const run = drive(commands);
        const scheduler = createScheduler({ config: { maxPlacementMisses: 4 } });
        let state = scheduler.initialState();
        for (const fact of run.facts) state = scheduler.evolve(state, fact);
        expect(json(snapshot(state))).toBe(json(snapshot(run.state)));
      }),
      { numRuns: 100 },
    );
  });

  it('re-deciding the recorded inputs gives byte-identical events', () => {
    fc.assert(
      fc.property(workloads, (commands) => {
        const run = drive(commands);
        const scheduler = createScheduler({ config: { maxPlacementMisses: 4 } });
        let state = scheduler.initialState();
        const again: SchedulerFact[] = [];
        for (const [now, input] of run.inputs) {
          const r = step(scheduler, state, input, now);
          state = r.state;
          again.push(...r.events);
        }
        expect(json(again.filter(isDecision))).toBe(json(run.facts.filter(isDecision)));
        expect(json(again)).toBe(json(run.facts));
      }),
      { numRuns: 100 },
    );
  });

  it('a state restored from a snapshot taken mid-run decides the rest exactly as the original', () => {
    fc.assert(
      fc.property(workloads, fc.nat(), (commands, cut) => {
        const run = drive(commands);
        const scheduler = createScheduler({ config: { maxPlacementMisses: 4 } });
        const at = cut % (run.inputs.length + 1);
        let state = scheduler.initialState();
        const before: SchedulerFact[] = [];
        for (const [now, input] of run.inputs.slice(0, at)) {
          const r = step(scheduler, state, input, now);
          state = r.state;
          before.push(...r.events);
        }
        state = restore(json(snapshot(state)));
        const after: SchedulerFact[] = [];
        for (const [now, input] of run.inputs.slice(at)) {
          const r = step(scheduler, state, input, now);
          state = r.state;
          after.push(...r.events);
        }
        expect(json([...before, ...after])).toBe(json(run.facts));
      }),
      { numRuns: 100 },
    );
  });

  it('snapshot and restore round-trip', () => {
    fc.assert(
      fc.property(workloads, (commands) => {
        const text = json(snapshot(drive(commands).state));
        expect(json(snapshot(restore(text)))).toBe(text);
      }),
      { numRuns: 50 },
    );
  });

  it('decide leaves the state as it found it', () => {
    fc.assert(
      fc.property(workloads, (commands) => {
        const run = drive(commands.slice(0, -1));
        const scheduler = createScheduler({ config: { maxPlacementMisses: 4 } });
        const before = json(snapshot(run.state));
        const last = drive(commands).inputs.at(-1);
        if (last) scheduler.decide(run.state, last[1], last[0] + 1);
        expect(json(snapshot(run.state))).toBe(before);
      }),
      { numRuns: 50 },
    );
  });

  it('restore refuses what is not a snapshot, with a typed error', () => {
    expect(() => restore('{"format":"other"}')).toThrow(ValidationError);
    expect(() => restore('not json')).toThrow(/not valid JSON/);
  });
});
