/**
 * Requests waiting per model and SLO class: arrived on inference.requests and not yet decided by
 * the scheduler (in a BatchFormed or a RequestRejected). The two sources are different topics, so
 * either may be read first: each request has a document (`request/<id>`) that records both halves,
 * and the per-model, per-class totals (`depth/<model>/<class>`) count a decision once both halves
 * are known. Request documents are kept, so a duplicate of either half changes nothing.
 */
import type { ProjectedEvent } from './events.js';
import { NO_CHANGES, type Doc, type DocChanges, type Docs, type Projection } from './projection.js';

export interface RequestDoc extends Doc {
  model: string;
  sloClass: string;
  tenant: string;
  deadlineMs: number;
  arrived: boolean;
  decided: boolean;
}

export interface DepthDoc extends Doc {
  model: string;
  sloClass: string;
  arrived: number;
  decided: number;
}

export type QueueDoc = RequestDoc | DepthDoc;

const depthId = (model: string, sloClass: string): string => `depth/${model}/${sloClass}`;

function bump(state: Docs<QueueDoc>, changes: Record<string, QueueDoc>, model: string, sloClass: string, field: 'arrived' | 'decided'): void {
  const id = depthId(model, sloClass);
  const doc = (changes[id] ?? state.get(id) ?? { model, sloClass, arrived: 0, decided: 0 }) as DepthDoc;
  changes[id] = { ...doc, [field]: doc[field] + 1 };
}

function decide(state: Docs<QueueDoc>, changes: Record<string, QueueDoc>, requestId: string, model: string): void {
  const id = `request/${requestId}`;
  const doc = (changes[id] ?? state.get(id)) as RequestDoc | undefined;
  if (doc?.decided) return;
  if (!doc) {
    changes[id] = { model, sloClass: '', tenant: '', deadlineMs: 0, arrived: false, decided: true };
    return;
  }
  changes[id] = { ...doc, decided: true };
  if (doc.arrived) bump(state, changes, doc.model, doc.sloClass, 'decided');
}

export const queuesProjection: Projection<QueueDoc> = {
  name: 'queues',
  version: 1,
  canHandle: (e: ProjectedEvent) => e.kind === 'request' || (e.kind === 'decision' && (e.value.type === 'BatchFormed' || e.value.type === 'RequestRejected')),
  handle(state, e): DocChanges<QueueDoc> {
    const changes: Record<string, QueueDoc> = {};
    if (e.kind === 'request') {
      const r = e.value;
      const id = `request/${r.requestId}`;
      const doc = state.get(id) as RequestDoc | undefined;
      if (doc?.arrived) return NO_CHANGES;
      changes[id] = { model: r.model, sloClass: r.sloClass, tenant: r.tenant, deadlineMs: r.deadlineMs, arrived: true, decided: doc?.decided ?? false };
      bump(state, changes, r.model, r.sloClass, 'arrived');
      if (doc?.decided) bump(state, changes, r.model, r.sloClass, 'decided');
      return changes;
    }
    if (e.kind !== 'decision') return NO_CHANGES;
    const d = e.value;
    if (d.type === 'BatchFormed') for (const requestId of d.requestIds) decide(state, changes, requestId, d.model);
    else if (d.type === 'RequestRejected') decide(state, changes, d.requestId, d.model);
    return changes;
  },
};

export const isDepthDoc = (id: string, _doc: QueueDoc): _doc is DepthDoc => id.startsWith('depth/');
