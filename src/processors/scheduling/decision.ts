import type { DecisionContext } from '../../domain/events/scheduler.js';
import { applyFact } from './apply.js';
import type { SchedulerConfig } from './config.js';
import type { SchedulerFact } from './facts.js';
import type { SchedulerView } from './view.js';

/**
 * One `decide` in progress: the draft it reads, the time and input it runs for, and `emit`,
 * which records a fact and applies it to the draft so the next rule sees its effect.
 */
export class Decision {
  readonly facts: SchedulerFact[] = [];

  constructor(
    readonly view: SchedulerView,
    readonly config: SchedulerConfig,
    readonly now: number,
    private readonly inputRef: string,
  ) {}

  /** The DecisionContext every fact of this decision carries. */
  context(): DecisionContext {
    return { atMs: this.now, inputs: [this.inputRef] };
  }

  emit(fact: SchedulerFact): void {
    applyFact(this.view, fact, this.config);
    this.facts.push(fact);
  }
}
