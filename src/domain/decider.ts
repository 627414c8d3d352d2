/**
 * A decider is the whole of a processor's logic as three pure functions.
 * Time enters as an argument (`now`, epoch milliseconds), so the same inputs
 * in the same order give the same events, live or in replay.
 */
export interface Decider<State, Input, Event> {
  initialState(): State;
  decide(state: State, input: Input, now: number): readonly Event[];
  evolve(state: State, event: Event): State;
}

/** Applies one input: decides, then folds the decided events into the state. */
export function step<S, I, E>(decider: Decider<S, I, E>, state: S, input: I, now: number): { state: S; events: readonly E[] } {
  const events = decider.decide(state, input, now);
  let next = state;
  for (const event of events) next = decider.evolve(next, event);
  return { state: next, events };
}
