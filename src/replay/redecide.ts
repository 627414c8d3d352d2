/**
 * Re-decides one dispatcher process's turns with the tunables it ran with, and returns the
 * decisions that fall within the compared window. Time is the journal's, never the clock's; the
 * optional `pace` hook lets the caller slow the run down to a multiple of real time.
 */
import type { SchedulerEvent } from '../domain/events/scheduler.js';
import { ValidationError } from '../domain/errors.js';
import { createDispatchCore, type CoreInput, type Turn } from './dispatch-core.js';
import type { InstancePlan } from './plan.js';

export interface Redecided {
  decisions: SchedulerEvent[];
  inputErrors: string[];
}

/** The plan's journal turns with their inputs read back; a ref the log no longer holds is an error. */
export function turnsOf(instance: InstancePlan, inputs: ReadonlyMap<string, CoreInput>): Turn[] {
  return instance.turns.map((t): Turn => {
    if (t.type === 'wake') return { atMs: t.atMs, wake: true };
    if (t.type === 'input' && t.ref.startsWith('tick:')) return { atMs: t.atMs, input: { kind: 'tick', ref: t.ref } };
    const input = inputs.get(t.ref);
    if (input === undefined) throw new ValidationError(`the journal names ${t.ref} (dispatcher ${instance.started.instance}, turn ${t.seq}), which the log no longer holds`);
    if (t.type === 'input') return { atMs: t.atMs, input };
    if (input.kind !== 'request') throw new ValidationError(`the journal names ${t.ref} (dispatcher ${instance.started.instance}, turn ${t.seq}) as a refused request, but it is a ${input.kind}`);
    return { atMs: t.atMs, refused: { ref: t.ref, request: input.request, reason: t.reason } };
  });
}

export async function redecide(
  instance: InstancePlan,
  turns: readonly Turn[],
  window: { fromMs: number; toMs: number },
  pace?: (turn: Turn, index: number) => Promise<void> | void,
): Promise<Redecided> {
  const decisions: SchedulerEvent[] = [];
  const core = createDispatchCore({
    startMs: instance.started.atMs,
    queuePolicy: instance.started.queuePolicy,
    scheduler: instance.started.scheduler,
    onDecision: (event) => {
      if (event.atMs >= window.fromMs && event.atMs <= window.toMs) decisions.push(event);
    },
  });
  try {
    for (const [i, turn] of turns.entries()) {
      await pace?.(turn, i);
      core.apply(turn);
    }
  } finally {
    core.close();
  }
  return { decisions, inputErrors: [...core.inputErrors] };
}
