/**
 * A projection is plain data: a name, a version, which events it reads, and a pure `handle`
 * that, given the current documents, returns the documents one event changes. The state is a
 * map of small JSON documents, so a sink can store exactly what changed (one hash field per
 * document) and a reader can fetch one document without loading the rest.
 *
 * Every projection here is confluent: its final state depends on the set of events applied,
 * not on how partitions interleave. Counters add; "latest" documents keep the reading with the
 * greatest timestamp (ties broken by content); windows keep the greatest keys. That is what lets
 * a rebuild from the log, whose interleaving differs from the live run, equal the live state.
 */
import type { ProjectedEvent } from './events.js';

/** A JSON document of one read model. */
export type Doc = Readonly<Record<string, unknown>>;

export type Docs<D extends Doc = Doc> = ReadonlyMap<string, D>;

/** The documents one event changes: document id → its new value, or null when it is removed. */
export type DocChanges<D extends Doc = Doc> = Readonly<Record<string, D | null>>;

export interface Projection<D extends Doc = Doc> {
  name: string;
  /** Bumped when the documents' shape or meaning changes; a new version is rebuilt from the log. */
  version: number;
  canHandle(event: ProjectedEvent): boolean;
  handle(state: Docs<D>, event: ProjectedEvent): DocChanges<D>;
}

export const NO_CHANGES: DocChanges<never> = Object.freeze({});

/** Applies changes to a mutable copy of the state (the shell's working copy). */
export function applyChanges<D extends Doc>(state: Map<string, D>, changes: DocChanges<D>): void {
  for (const [id, doc] of Object.entries(changes)) {
    if (doc === null) state.delete(id);
    else state.set(id, doc);
  }
}

/** Folds events into a projection's state from scratch: the reference that sinks and replays must match. */
export function fold<D extends Doc>(projection: Projection<D>, events: Iterable<ProjectedEvent>, from: Docs<D> = new Map()): Map<string, D> {
  const state = new Map(from);
  for (const event of events) if (projection.canHandle(event)) applyChanges(state, projection.handle(state, event));
  return state;
}

/** Deterministic order of two readings with equal timestamps: by their serialised content. */
export function laterThan(a: { timestampMs: number }, b: { timestampMs: number } | undefined): boolean {
  if (!b) return true;
  if (a.timestampMs !== b.timestampMs) return a.timestampMs > b.timestampMs;
  return JSON.stringify(a) > JSON.stringify(b);
}
