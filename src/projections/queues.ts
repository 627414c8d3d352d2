/**
 * Requests waiting per model and SLO class (`depth/<model>/<class>`): arrived on
 * inference.requests and not yet decided by the scheduler (in a BatchFormed or a RequestRejected).
 * The two sources are different topics, so either may be read first: each request has a document
 * (`request/<id>`) holding the time of each half seen, and a duplicate of either half changes
 * nothing.
 *
 * Request documents are forgotten, so the state stays bounded under endless traffic. Time here is
 * the scheduler's: the newest decision time seen (`clock`), since clients' clocks cannot be
 * trusted to move it. Each half is kept while it is younger than its horizon behind that clock
 * (in whole steps of `stepMs`), and a half older than its horizon is ignored when it arrives. What
 * is kept is then a function of which events were applied, not of their order, so a rebuild from
 * the log equals the live state. Decided halves are kept a minute longer than arrived ones, so a
 * client clock up to a minute ahead of the scheduler's cannot leave a decided request counted as
 * waiting. A request still undecided after `arrivedMs` of scheduler time stops counting: the
 * dispatcher rejects expired requests, so only one it never read waits that long, and that shows as
 * consumer lag instead.
 */
import type { ProjectedEvent } from './events.js';
import { NO_CHANGES, type Doc, type DocChanges, type Docs, type Projection } from './projection.js';

export interface RequestDoc extends Doc {
  /** From the arrived half; '' while only the decision is kept. */
  model: string;
  sloClass: string;
  /** submittedAtMs of the arrived half, or null. */
  arrivedAtMs: number | null;
  /** The newest decision time for this request, or null. */
  decidedAtMs: number | null;
}

export interface DepthDoc extends Doc {
  model: string;
  sloClass: string;
  waiting: number;
}

export interface ClockDoc extends Doc {
  /** The newest decision time seen, epoch ms. */
  newestMs: number;
}

export type QueueDoc = RequestDoc | DepthDoc | ClockDoc;

export interface QueueRetention {
  /** How long (scheduler time) an arrived half is kept. */
  arrivedMs: number;
  /** How long a decided half is kept: longer than arrivedMs by the client clock skew tolerated. */
  decidedMs: number;
  /** Horizons move in whole steps, so forgetting is one sweep per step, not one per event. */
  stepMs: number;
}

export const QUEUE_RETENTION: QueueRetention = { arrivedMs: 2 * 60_000, decidedMs: 3 * 60_000, stepMs: 10_000 };

const CLOCK = 'clock';
const depthId = (model: string, sloClass: string): string => `depth/${model}/${sloClass}`;
const requestId = (id: string): string => `request/${id}`;
const isRequestDoc = (id: string, _doc: QueueDoc): _doc is RequestDoc => id.startsWith('request/');
export const isDepthDoc = (id: string, _doc: QueueDoc): _doc is DepthDoc => id.startsWith('depth/');

const waits = (doc: RequestDoc | undefined): number => (doc && doc.arrivedAtMs !== null && doc.decidedAtMs === null ? 1 : 0);

/** The oldest times still kept, for a clock reading. */
function horizons(newestMs: number, r: QueueRetention): { arrived: number; decided: number } {
  const step = Math.floor(newestMs / r.stepMs) * r.stepMs;
  return { arrived: step - r.arrivedMs, decided: step - r.decidedMs };
}

/** The changes of one event, read through a working view of the state. */
class Changes {
  readonly out: Record<string, QueueDoc | null> = {};
  constructor(private readonly state: Docs<QueueDoc>) {}

  get<D extends QueueDoc>(id: string): D | undefined {
    return (id in this.out ? (this.out[id] ?? undefined) : this.state.get(id)) as D | undefined;
  }

  /** Replaces (or, with undefined, removes) a request document, keeping its class's depth in step. */
  setRequest(id: string, next: RequestDoc | undefined): void {
    const before = this.get<RequestDoc>(id);
    const delta = waits(next) - waits(before);
    this.out[id] = next ?? null;
    const counted = delta > 0 ? next! : before;
    if (delta !== 0 && counted) this.addWaiting(counted.model, counted.sloClass, delta);
  }

  addWaiting(model: string, sloClass: string, delta: number): void {
    const id = depthId(model, sloClass);
    const doc = this.get<DepthDoc>(id) ?? { model, sloClass, waiting: 0 };
    this.out[id] = { ...doc, waiting: doc.waiting + delta };
  }
}

/** Drops the halves that fell behind the horizons, the whole document when neither is left. */
function forget(c: Changes, state: Docs<QueueDoc>, h: { arrived: number; decided: number }): void {
  for (const [id, doc] of state) {
    if (!isRequestDoc(id, doc)) continue;
    const arrived = doc.arrivedAtMs !== null && doc.arrivedAtMs > h.arrived;
    const decided = doc.decidedAtMs !== null && doc.decidedAtMs > h.decided;
    if (arrived === (doc.arrivedAtMs !== null) && decided === (doc.decidedAtMs !== null)) continue;
    if (!arrived && !decided) c.setRequest(id, undefined);
    else if (arrived) c.setRequest(id, { ...doc, decidedAtMs: null });
    else c.setRequest(id, { model: '', sloClass: '', arrivedAtMs: null, decidedAtMs: doc.decidedAtMs });
  }
}

function arrive(c: Changes, h: { arrived: number }, id: string, model: string, sloClass: string, atMs: number): void {
  // The depth document exists once any request of its class is seen, kept or not, so its
  // existence too depends only on which events were applied.
  if (!c.get(depthId(model, sloClass))) c.addWaiting(model, sloClass, 0);
  if (atMs <= h.arrived) return;
  const doc = c.get<RequestDoc>(requestId(id));
  if (doc?.arrivedAtMs !== undefined && doc.arrivedAtMs !== null && doc.arrivedAtMs >= atMs) return;
  c.setRequest(requestId(id), { model, sloClass, arrivedAtMs: atMs, decidedAtMs: doc?.decidedAtMs ?? null });
}

function decide(c: Changes, h: { decided: number }, id: string, atMs: number): void {
  if (atMs <= h.decided) return;
  const doc = c.get<RequestDoc>(requestId(id));
  if (doc?.decidedAtMs !== undefined && doc.decidedAtMs !== null && doc.decidedAtMs >= atMs) return;
  c.setRequest(requestId(id), { model: doc?.model ?? '', sloClass: doc?.sloClass ?? '', arrivedAtMs: doc?.arrivedAtMs ?? null, decidedAtMs: atMs });
}

/** The queues projection with its retention (the default suits live traffic; specs shorten it). */
export function queuesProjectionWith(retention: QueueRetention): Projection<QueueDoc> {
  return {
    name: 'queues',
    version: 2,
    canHandle: (e: ProjectedEvent) => e.kind === 'request' || (e.kind === 'decision' && (e.value.type === 'BatchFormed' || e.value.type === 'RequestRejected')),
    handle(state, e): DocChanges<QueueDoc> {
      const c = new Changes(state);
      const clock = state.get(CLOCK) as ClockDoc | undefined;
      let h = horizons(clock?.newestMs ?? -Infinity, retention);
      if (e.kind === 'decision' && e.value.atMs > (clock?.newestMs ?? -Infinity)) {
        c.out[CLOCK] = { newestMs: e.value.atMs };
        const moved = horizons(e.value.atMs, retention);
        if (moved.arrived !== h.arrived) forget(c, state, moved);
        h = moved;
      }
      if (e.kind === 'request') arrive(c, h, e.value.requestId, e.value.model, e.value.sloClass, e.value.submittedAtMs);
      else if (e.kind === 'decision' && e.value.type === 'BatchFormed') for (const id of e.value.requestIds) decide(c, h, id, e.value.atMs);
      else if (e.kind === 'decision' && e.value.type === 'RequestRejected') decide(c, h, e.value.requestId, e.value.atMs);
      return Object.keys(c.out).length === 0 ? NO_CHANGES : c.out;
    },
  };
}

export const queuesProjection = queuesProjectionWith(QUEUE_RETENTION);
