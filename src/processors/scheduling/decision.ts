import type { DecisionContext } from '../../domain/events/scheduler.js';
import { applyFact } from './apply.js';
import type { SchedulerConfig } from './config.js';
import { Draft } from './draft.js';
import type { SchedulerFact } from './facts.js';
import type { SchedulerState } from './state.js';
import type { SchedulerView } from './view.js';

/**
 * One `decide` in progress: the time and input it runs for, the facts decided so far, and
 * `view`, the state as those facts left it, which is what every rule reads.
 *
 * Facts are applied to the view when a rule next reads it, not when they are emitted: the
 * last facts of a decision usually have no reader (an assignment ends the decision, a
 * completion or a telemetry sample finds no batch waiting), so they are folded once, by
 * `evolve`, instead of twice. Until the first fact the view is the state itself; the
 * copy-on-write Draft is made only when a rule reads after a fact.
 */
export class Decision {
  readonly facts: SchedulerFact[] = [];
  private draft: Draft | null = null;
  private applied = 0;

  constructor(
    private readonly state: SchedulerState,
    readonly config: SchedulerConfig,
    readonly now: number,
    private readonly inputRef: string,
  ) {}

  /** The state with every fact decided so far applied. Read it afresh after each emit. */
  get view(): SchedulerView {
    if (this.facts.length === 0) return this.state;
    const draft = (this.draft ??= new Draft(this.state));
    while (this.applied < this.facts.length) applyFact(draft, this.facts[this.applied++] as SchedulerFact, this.config);
    return draft;
  }

  /**
   * True when no batch can be waiting: none was waiting before the facts not yet applied, and
   * none of those facts queues one. Answered without applying them.
   */
  nothingPending(): boolean {
    for (let i = this.applied; i < this.facts.length; i++) {
      const type = (this.facts[i] as SchedulerFact).type;
      if (type === 'BatchQueued' || type === 'BatchRequeued') return false;
    }
    return (this.draft ?? this.state).pendingByPriority().length === 0;
  }

  /** The DecisionContext every fact of this decision carries. */
  context(): DecisionContext {
    return { atMs: this.now, inputs: [this.inputRef] };
  }

  emit(fact: SchedulerFact): void {
    this.facts.push(fact);
  }
}
