/**
 * Model versions and the traffic split between them (`model/<model>`), from models.manifests and
 * inference.results. Every version a manifest announced is listed with what it runs on; the
 * current one is the version of the newest manifest (the greatest offset: a model's manifests
 * share one partition of the compacted topic, and the newest is what workers load and the
 * dispatcher routes to). What each version actually served comes from the results: totals per
 * version, and the split over the most recent results by completion time — during a rollout or a
 * rollback, the share still answered by the old version.
 *
 * Results the dispatcher refused (REJECTED, no version ran them) are not part of the split.
 * A retired model keeps its document, with no current version.
 */
import { isRetirement, type ModelManifest } from '../domain/events/index.js';
import type { ProjectedEvent } from './events.js';
import { NO_CHANGES, type Doc, type Projection } from './projection.js';

/** Results kept per model for the traffic split. */
export const SPLIT_WINDOW = 200;

export interface VersionDoc {
  executor: ModelManifest['executor'];
  weightsUri: string;
  commit: string;
  dtype: ModelManifest['dtype'];
  inputShape: number[];
  maxBatchSize: number;
  /** Offset of the newest manifest of this version. */
  offset: string;
}

export interface ModelVersionsDoc extends Doc {
  model: string;
  /** Version of the newest manifest; '' until a manifest is read, and once the model is retired. */
  current: string;
  /** Offset of the newest manifest or retirement; '' until one is read. */
  currentOffset: string;
  /** Every version announced, by name. */
  versions: Readonly<Record<string, VersionDoc>>;
  /** Results per version that ran: [ok, failed]. */
  served: Readonly<Record<string, readonly [number, number]>>;
  /** [completedAtMs, requestId, version] of the most recent results, ascending, at most SPLIT_WINDOW. */
  recent: readonly (readonly [number, string, string])[];
  /** Share of the recent results each version served. */
  split: Readonly<Record<string, number>>;
}

const empty = (model: string): ModelVersionsDoc => ({ model, current: '', currentOffset: '', versions: {}, served: {}, recent: [], split: {} });

/** A record with its keys sorted: stored JSON must not depend on which version came first. */
const sorted = <V>(entries: Iterable<[string, V]>): Record<string, V> => Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** Whether a version's manifest `a` is newer than `b`: by offset, equal offsets by content. */
function newer(a: VersionDoc, b: VersionDoc | undefined): boolean {
  if (!b) return true;
  const [x, y] = [BigInt(a.offset), BigInt(b.offset)];
  return x !== y ? x > y : JSON.stringify(a) > JSON.stringify(b);
}

const before = (a: readonly [number, string, string], b: readonly [number, string, string]): boolean =>
  a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2])));

/** Inserts in completion order (a duplicate changes nothing) and keeps the newest SPLIT_WINDOW. */
function admit(recent: ModelVersionsDoc['recent'], entry: readonly [number, string, string]): ModelVersionsDoc['recent'] {
  if (recent.length >= SPLIT_WINDOW && !before(recent[0]!, entry)) return recent;
  if (recent.some((r) => r[0] === entry[0] && r[1] === entry[1] && r[2] === entry[2])) return recent;
  const at = recent.findIndex((r) => before(entry, r));
  const next = at < 0 ? [...recent, entry] : [...recent.slice(0, at), entry, ...recent.slice(at)];
  return next.length > SPLIT_WINDOW ? next.slice(next.length - SPLIT_WINDOW) : next;
}

function splitOf(recent: ModelVersionsDoc['recent']): Record<string, number> {
  const counts = new Map<string, number>();
  for (const [, , version] of recent) counts.set(version, (counts.get(version) ?? 0) + 1);
  return sorted([...counts].map(([version, n]) => [version, n / recent.length]));
}

export const modelVersionsProjection: Projection<ModelVersionsDoc> = {
  name: 'model-versions',
  version: 1,
  canHandle: (e: ProjectedEvent) => e.kind === 'manifest' || (e.kind === 'result' && e.value.status !== 'REJECTED' && e.value.modelVersion !== ''),
  handle(state, e) {
    if (e.kind === 'manifest') {
      const m = e.value;
      const id = `model/${m.model}`;
      const doc = state.get(id) ?? empty(m.model);
      const afterCurrent = doc.currentOffset === '' || BigInt(e.offset) > BigInt(doc.currentOffset);
      if (isRetirement(m)) return afterCurrent ? { [id]: { ...doc, current: '', currentOffset: e.offset } } : NO_CHANGES;
      const version: VersionDoc = {
        executor: m.executor, weightsUri: m.weightsUri, commit: m.commit, dtype: m.dtype, inputShape: [...m.inputShape], maxBatchSize: m.maxBatchSize, offset: e.offset,
      };
      const replaces = newer(version, doc.versions[m.version]);
      // The newest manifest by offset names the current version (equal offsets, only possible across partitions: by name).
      const isCurrent = afterCurrent || (BigInt(e.offset) === BigInt(doc.currentOffset) && m.version > doc.current);
      if (!replaces && !isCurrent) return NO_CHANGES;
      return {
        [id]: {
          ...doc,
          versions: replaces ? sorted([...Object.entries(doc.versions), [m.version, version]]) : doc.versions,
          ...(isCurrent ? { current: m.version, currentOffset: e.offset } : {}),
        },
      };
    }
    if (e.kind !== 'result' || e.value.status === 'REJECTED' || e.value.modelVersion === '') return NO_CHANGES;
    const r = e.value;
    const id = `model/${r.model}`;
    const doc = state.get(id) ?? empty(r.model);
    const [ok, failed] = doc.served[r.modelVersion] ?? [0, 0];
    const recent = admit(doc.recent, [r.completedAtMs, r.requestId, r.modelVersion]);
    return {
      [id]: {
        ...doc,
        served: sorted([...Object.entries(doc.served), [r.modelVersion, r.status === 'OK' ? [ok + 1, failed] : [ok, failed + 1]] as [string, readonly [number, number]]]),
        recent,
        split: recent === doc.recent ? doc.split : splitOf(recent),
      },
    };
  },
};
