import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import type { SloClass } from '../../../src/domain/events/request.js';
import { createBatcher } from '../../../src/processors/batching/batcher.js';
import { batchRequests, type BatcherOutput, type BatcherSourceInput } from '../../../src/processors/batching/batch-operator.js';
import { prepared, request } from './helpers.js';

type Step =
  | { kind: 'arrive'; dt: number; sloClass: SloClass; deadlineIn: number }
  | { kind: 'capacity'; dt: number; slots: number }
  | { kind: 'observed'; dt: number; size: number; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('arrive' as const), dt: fc.constantFrom(0, 0, 0, 1, 3, 6), sloClass: fc.constantFrom<SloClass>('realtime', 'interactive', 'batch'), deadlineIn: fc.constantFrom(3, 15, 40, 200, 5000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('capacity' as const), dt: fc.integer({ min: 0, max: 10 }), slots: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('observed' as const), dt: fc.integer({ min: 0, max: 10 }), size: fc.integer({ min: 1, max: 8 }), ms: fc.integer({ min: 1, max: 30 }) }) },
);

const configArb = fc.record({
  maxBatchSize: fc.integer({ min: 1, max: 8 }),
  preferred: fc.subarray([2, 3, 4, 6]),
  maxQueueDelayMs: fc.integer({ min: 0, max: 20 }),
  maxQueueSize: fc.integer({ min: 1, max: 30 }),
  timeoutMs: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
  agingMs: fc.constantFrom(5, 50, Infinity),
  sizing: fc.constantFrom('model-based', 'aimd'),
});

interface Run {
  outputs: Array<{ at: number; output: BatcherOutput }>;
  arrivals: Array<{ id: string; at: number; sloClass: SloClass; deadlineMs: number }>;
  granted: Array<{ at: number; slots: number }>;
}

/** Drives the operator in virtual time over a generated workload, then completes the input. */
type Config = typeof configArb extends fc.Arbitrary<infer C> ? C : never;

function drive(config: Config, steps: readonly Step[]): Run {
  const scheduler = new VirtualTimeScheduler();
  const batcher = createBatcher({
    defaults: {
      maxQueueSize: config.maxQueueSize,
      agingMs: config.agingMs,
      prior: { fixedMs: 2, perSampleMs: 0.5 },
      ...(config.timeoutMs === undefined ? {} : { timeoutMs: config.timeoutMs }),
      sizing: config.sizing === 'aimd' ? { kind: 'aimd', targetP95Ms: 10, window: 4 } : { kind: 'model-based' },
    },
  });
  const initialState = prepared(batcher, { manifest: { maxBatchSize: config.maxBatchSize, preferredBatchSizes: config.preferred, maxQueueDelayMs: config.maxQueueDelayMs } });
  const input = new Subject<BatcherSourceInput>();
  const run: Run = { outputs: [], arrivals: [], granted: [] };
  input.pipe(batchRequests({ batcher, scheduler, initialState })).subscribe((output) => run.outputs.push({ at: scheduler.now(), output }));
  let t = 0;
  steps.forEach((s, i) => {
    t += s.dt;
    const at = t;
    scheduler.schedule(() => {
      if (s.kind === 'arrive') {
        const r = request(`r${i}`, { sloClass: s.sloClass, deadlineMs: at + s.deadlineIn, submittedAtMs: at });
        run.arrivals.push({ id: r.requestId, at, sloClass: s.sloClass, deadlineMs: r.deadlineMs });
        input.next({ type: 'RequestArrived', request: r, inputRef: `in:0:${i}` });
      } else if (s.kind === 'capacity') {
        run.granted.push({ at, slots: s.slots });
        input.next({ type: 'CapacityAvailable', slots: s.slots, inputRef: `hb:0:${i}` });
      } else {
        input.next({ type: 'BatchObserved', model: 'm', modelVersion: '1', batchSize: s.size, serviceTimeMs: s.ms, inputRef: `res:0:${i}` });
      }
    }, at);
  });
  scheduler.schedule(() => input.complete(), t + 100);
  scheduler.flush();
  return run;
}

const settings = { numRuns: 150 };

describe('batcher properties', () => {
  it('batches or rejects every request exactly once, never loses or duplicates one', () => {
    fc.assert(
      fc.property(configArb, fc.array(stepArb, { maxLength: 80 }), (config, steps) => {
        const run = drive(config, steps);
        const seen = new Map<string, number>();
        for (const { output } of run.outputs) {
          const ids = output.type === 'BatchFormed' ? output.event.requestIds : [output.event.requestId];
          for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
          if (output.type === 'BatchFormed') expect(output.requests.map((r) => r.requestId)).toEqual(output.event.requestIds);
        }
        expect([...seen.keys()].sort()).toEqual(run.arrivals.map((a) => a.id).sort());
        for (const count of seen.values()) expect(count).toBe(1);
      }),
      settings,
    );
  });

  it('never forms a batch over the max size, or more batches than capacity granted', () => {
    fc.assert(
      fc.property(configArb, fc.array(stepArb, { maxLength: 80 }), (config, steps) => {
        const run = drive(config, steps);
        let formed = 0;
        for (const { at, output } of run.outputs) {
          if (output.type !== 'BatchFormed') continue;
          formed++;
          expect(output.event.requestIds.length).toBeGreaterThanOrEqual(1);
          expect(output.event.requestIds.length).toBeLessThanOrEqual(config.maxBatchSize);
          const granted = run.granted.filter((g) => g.at <= at).reduce((s, g) => s + g.slots, 0);
          expect(formed).toBeLessThanOrEqual(granted);
        }
      }),
      settings,
    );
  });

  it('keeps FIFO order within a class for equal deadlines', () => {
    fc.assert(
      fc.property(configArb, fc.array(stepArb, { maxLength: 80 }), (config, steps) => {
        const run = drive(config, steps);
        // Position of every batched request: (batch number, place in batch).
        const position = new Map<string, [number, number]>();
        let b = 0;
        for (const { output } of run.outputs) {
          if (output.type !== 'BatchFormed') continue;
          output.event.requestIds.forEach((id, i) => position.set(id, [b, i]));
          b++;
        }
        const batched = run.arrivals.filter((a) => position.has(a.id));
        for (let i = 0; i < batched.length; i++) {
          for (let j = i + 1; j < batched.length; j++) {
            const x = batched[i]!;
            const y = batched[j]!;
            if (x.sloClass !== y.sloClass || x.deadlineMs !== y.deadlineMs) continue;
            const [bx, px] = position.get(x.id)!;
            const [by, py] = position.get(y.id)!;
            expect(bx < by || (bx === by && px < py)).toBe(true);
          }
        }
      }),
      settings,
    );
  });

  it('decides the same way twice for the same inputs', () => {
    fc.assert(
      fc.property(configArb, fc.array(stepArb, { maxLength: 60 }), (config, steps) => {
        const strip = (run: Run) => JSON.stringify(run.outputs.map(({ at, output }) => [at, output.type, output.event]));
        expect(strip(drive(config, steps))).toBe(strip(drive(config, steps)));
      }),
      { numRuns: 50 },
    );
  });
});
