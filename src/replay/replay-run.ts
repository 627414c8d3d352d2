/**
 * `gpuflow replay --from --to [--speed] [--verify]`: reads the journal and the inputs it names,
 * re-decides each dispatcher process's turns, and (with verify) compares the decisions made within
 * the range with the recorded ones on scheduler.events.
 */
import type { SchedulerEvent } from '../domain/events/scheduler.js';
import type { Kafka } from '../kafka/client.js';
import type { RegistryClient } from '../kafka/registry.js';
import type { Logger } from '../log.js';
import { verifyDecisions, type Verification } from './compare.js';
import type { Turn } from './dispatch-core.js';
import { readDecisions, readInputs, readJournal } from './log-reader.js';
import { planReplay, type ReplayPlan } from './plan.js';
import type { Bound } from './range.js';
import { redecide, turnsOf } from './redecide.js';

export interface ReplayRunOptions {
  from?: Bound;
  to?: Bound;
  /** Multiple of real time, or as fast as possible. */
  speed: number | 'max';
  verify: boolean;
  /** Turns re-driven so far, of the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface ReplayRunResult {
  plan: ReplayPlan;
  turns: number;
  /** Decisions re-made within the window, in logical-time order. */
  decisions: SchedulerEvent[];
  inputErrors: string[];
  verification: Verification | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Keeps re-driven time at `speed` × real time: waits whenever the replay gets ahead by a millisecond or more. */
function pacer(speed: number | 'max'): (turn: Turn) => Promise<void> | void {
  if (speed === 'max') return () => undefined;
  let origin: { virtualMs: number; realMs: number } | undefined;
  return async (turn) => {
    const realMs = performance.now();
    origin ??= { virtualMs: turn.atMs, realMs };
    const ahead = (turn.atMs - origin.virtualMs) / speed - (realMs - origin.realMs);
    if (ahead >= 1) await sleep(ahead);
  };
}

export async function runReplay(kafka: Kafka, registry: RegistryClient, logger: Logger, options: ReplayRunOptions): Promise<ReplayRunResult> {
  const plan = planReplay(await readJournal(kafka, logger), options.from, options.to);
  if (plan.window === null) return { plan, turns: 0, decisions: [], inputErrors: [], verification: options.verify ? { decisions: 0, difference: null } : null };
  const window = plan.window;
  const refs = plan.instances.flatMap((i) => i.turns.flatMap((t) => (t.type === 'rejected' || (t.type === 'input' && !t.ref.startsWith('tick:')) ? [t.ref] : [])));
  const inputs = await readInputs(kafka, registry, logger, refs);
  const total = plan.instances.reduce((n, i) => n + i.turns.length, 0);
  let done = 0;
  const decisions: SchedulerEvent[] = [];
  const inputErrors: string[] = [];
  for (const instance of plan.instances) {
    const pace = pacer(options.speed);
    const result = await redecide(instance, turnsOf(instance, inputs), window, async (turn) => {
      await pace(turn);
      done++;
      if (done % 500 === 0) options.onProgress?.(done, total);
    });
    decisions.push(...result.decisions);
    inputErrors.push(...result.inputErrors);
  }
  options.onProgress?.(total, total);
  // Stable: each process's own order is kept among decisions made at the same time.
  decisions.sort((a, b) => a.atMs - b.atMs);
  const verification = options.verify ? verifyDecisions(await readDecisions(kafka, registry, logger, window), decisions) : null;
  return { plan, turns: total, decisions, inputErrors, verification };
}
