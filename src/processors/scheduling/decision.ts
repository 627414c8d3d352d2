import { applyFact } from './apply.js';
import type { SchedulerConfig } from './config.js';
import { Draft } from './draft.js';
import type { SchedulerFact } from './facts.js';
import { QueuedView } from './queued-view.js';
import type { SchedulerState } from './state.js';
import type { SchedulerView } from './view.js';

/**
 * One `decide` in progress: the time and input it runs for, the facts decided so far, and
 * `view`, the state as those facts left it, which is what every rule reads.
 *
 * Facts are applied to the view when a rule next reads it, not when they are emitted: the
 * last facts of a decision usually have no reader (an assignment ends the decision, a
 * completion or a telemetry sample finds no batch waiting), so they are folded once, by
 * `evolve`, instead of twice. Until the first fact the view is the state itself; while every
 * fact so far queues a batch (a batch arriving, about to be placed) it is a QueuedView, the
 * state plus those batches; the copy-on-write Draft is made only when a rule reads after any
 * other fact.
 */
export class Decision {
  readonly facts: SchedulerFact[] = [];
  /**
   * The DecisionContext's `inputs` every fact of this decision carries (with `atMs: now`): one
   * array shared by the decision's facts, which, like every fact, are never changed once made.
   */
  readonly inputs: string[];
  private queued: QueuedView | null = null;
  private queuedCount = 0;
  private draft: Draft | null = null;
  private applied = 0;

  constructor(
    private readonly state: SchedulerState,
    readonly config: SchedulerConfig,
    readonly now: number,
    inputRef: string,
  ) {
    this.inputs = [inputRef];
  }

  /** The state with every fact decided so far applied. Read it afresh after each emit. */
  get view(): SchedulerView {
    const count = this.facts.length;
    if (count === 0) return this.state;
    if (this.draft === null) {
      for (; this.queuedCount < count; this.queuedCount++) {
        const fact = this.facts[this.queuedCount] as SchedulerFact;
        if (fact.type !== 'BatchQueued') break;
        (this.queued ??= new QueuedView(this.state)).add(fact.batch);
      }
      if (this.queuedCount === count) return this.queued as QueuedView;
      this.draft = new Draft(this.state);
    }
    while (this.applied < count) applyFact(this.draft, this.facts[this.applied++] as SchedulerFact, this.config);
    return this.draft;
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

  emit(fact: SchedulerFact): void {
    this.facts.push(fact);
  }
}
