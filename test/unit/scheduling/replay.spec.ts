import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { step } from '../../../src/domain/decider.js';
import { ValidationError } from '../../../src/domain/errors.js';
import { isDecision } from '../../../src/processors/scheduling/facts.js';
import { createScheduler } from '../../../src/processors/scheduling/scheduler.js';
import { restore, snapshot } from '../../../src/processors/scheduling/state.js';
import type { SchedulerInput } from '../../../src/processors/scheduling/inputs.js';
import { alert, decideAll, GiB, heartbeat, ready, telemetry } from './support.js';
import { command, drive } from './workload.js';

const workloads = fc.array(command, { minLength: 10, maxLength: 160 });
const json = (x: unknown): string => JSON.stringify(x);
/** The scheduler the workloads are driven with (workload.ts). */
const newScheduler = () => createScheduler({ config: { maxPlacementMisses: 4 } });

/** A driven run cut at `cut` (modulo its inputs): the inputs before the cut decided afresh, and those after. */
function cutRun(commands: Parameters<typeof drive>[0], cut: number) {
  const run = drive(commands);
  const scheduler = newScheduler();
  const at = cut % (run.inputs.length + 1);
  const before = decideAll(scheduler, scheduler.initialState(), run.inputs.slice(0, at));
  return { run, scheduler, before, rest: run.inputs.slice(at) };
}

describe('replay', () => {
  it('folding the recorded facts with evolve rebuilds the same state', () => {
    fc.assert(
      fc.property(workloads, (commands) => {
        const run = drive(commands);
        const scheduler = newScheduler();
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
        const scheduler = newScheduler();
        const again = decideAll(scheduler, scheduler.initialState(), run.inputs).facts;
        expect(json(again.filter(isDecision))).toBe(json(run.facts.filter(isDecision)));
        expect(json(again)).toBe(json(run.facts));
      }),
      { numRuns: 100 },
    );
  });

  it('a state restored from a snapshot taken mid-run decides the rest exactly as the original', () => {
    fc.assert(
      fc.property(workloads, fc.nat(), (commands, cut) => {
        const { run, scheduler, before, rest } = cutRun(commands, cut);
        const after = decideAll(scheduler, restore(json(snapshot(before.state))), rest).facts;
        expect(json([...before.facts, ...after])).toBe(json(run.facts));
      }),
      { numRuns: 100 },
    );
  });

  it('a state folded from the facts of a run prefix decides the rest exactly as the original', () => {
    fc.assert(
      fc.property(workloads, fc.nat(), (commands, cut) => {
        const { run, scheduler, before, rest } = cutRun(commands, cut);
        let state = scheduler.initialState();
        for (const fact of before.facts) state = scheduler.evolve(state, fact);
        const after = decideAll(scheduler, state, rest).facts;
        expect(json([...before.facts, ...after])).toBe(json(run.facts));
      }),
      { numRuns: 100 },
    );
  });

  it('a long fold with no placement in between (the index catching up once) decides like a fresh restore', () => {
    // Thousands of facts change devices with no placement query between them (no batch waits),
    // so the index catches up only when the batches below arrive.
    const inputs: Array<[number, SchedulerInput]> = [];
    for (let w = 0; w < 4; w++) inputs.push([0, heartbeat(`w${w}`, { devices: [`w${w}-g0`, `w${w}-g1`], capacity: 4 })]);
    for (let i = 0; i < 3000; i++) inputs.push([1, telemetry(`w${i % 4}-g${(i >> 2) % 2}`, ((i * 7919) % 20) * GiB, i)]);
    // Each device's last sample differs, then alerts on a device that is not in the cluster.
    for (let d = 0; d < 8; d++) inputs.push([2, telemetry(`w${d % 4}-g${d >> 2}`, (2 + ((d * 5) % 8)) * GiB, 3000 + d)]);
    for (let i = 0; i < 1100; i++) inputs.push([3, alert('ghost-gpu', i % 2 === 0 ? 'RAISED' : 'CLEARED')]);
    const scheduler = createScheduler();
    const { state: live, facts } = decideAll(scheduler, scheduler.initialState(), inputs);
    let folded = scheduler.initialState();
    for (const fact of facts) folded = scheduler.evolve(folded, fact);
    let fresh = restore(json(snapshot(live)));
    expect(json(snapshot(folded))).toBe(json(snapshot(fresh)));
    for (let b = 0; b < 8; b++) {
      const batch = ready(`late-${b}`, { size: 1, memoryPerSampleBytes: (9 - b) * GiB });
      const expected = step(scheduler, fresh, batch, 200);
      fresh = expected.state;
      for (const [name, state] of [['live', live], ['folded', folded]] as const) {
        const got = step(scheduler, state, batch, 200);
        expect(json(got.events), `${name}, batch ${b}`).toBe(json(expected.events));
      }
      expect(expected.events.some((f) => f.type === 'BatchAssigned'), `batch ${b} placed`).toBe(true);
    }
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

  it('a snapshot, and a state restored from a snapshot object, stay apart from the states that go on', () => {
    fc.assert(
      fc.property(workloads, fc.nat(), (commands, cut) => {
        const { run, scheduler, before, rest } = cutRun(commands, cut);
        const kept = snapshot(before.state);
        const text = json(kept);
        // The original goes on (its device rows and batch lists change in place) ...
        decideAll(scheduler, before.state, rest);
        expect(json(kept)).toBe(text);
        // ... and so does a state restored from the kept object itself.
        const after = decideAll(scheduler, restore(kept), rest).facts;
        expect(json(kept)).toBe(text);
        expect(json([...before.facts, ...after])).toBe(json(run.facts));
      }),
      { numRuns: 50 },
    );
  });

  it('decide leaves the state as it found it', () => {
    fc.assert(
      fc.property(workloads, (commands) => {
        const run = drive(commands.slice(0, -1));
        const scheduler = newScheduler();
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
