/**
 * What a publish would change: per model, the fields added, removed or changed between the live
 * manifest and the one from the files. `commit` is left out: it says where a manifest came from,
 * not what it does, so a new commit alone changes nothing and publishes nothing.
 */
import { manifestDefaults, type ModelManifest } from '../domain/events/manifest.js';

export interface FieldChange {
  /** Manifest field; map entries as `weightsByVersion.<version>`. */
  field: string;
  kind: 'added' | 'removed' | 'changed';
  /** JSON of the live value (absent when added). */
  before?: string;
  /** JSON of the new value (absent when removed). */
  after?: string;
}

export interface ModelDiff {
  model: string;
  /** added: not live yet; removed: live but no file declares it (publish leaves it live unless it prunes). */
  status: 'added' | 'changed' | 'unchanged' | 'removed';
  changes: FieldChange[];
}

/** The manifest as field → JSON value, defaults filled, so an old-schema manifest compares like a new one. */
export function manifestFields(m: ModelManifest): Map<string, string> {
  const full = manifestDefaults(m);
  const fields = new Map<string, string>();
  for (const [k, v] of Object.entries(full)) {
    if (k === 'commit') continue;
    if (k === 'weightsByVersion') for (const [version, uri] of Object.entries(v as Record<string, string>)) fields.set(`weightsByVersion.${version}`, JSON.stringify(uri));
    else fields.set(k, JSON.stringify(v));
  }
  return fields;
}

export function diffFields(live: Map<string, string>, next: Map<string, string>): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of [...new Set([...live.keys(), ...next.keys()])].sort()) {
    const before = live.get(field);
    const after = next.get(field);
    if (before === after) continue;
    if (before === undefined) changes.push({ field, kind: 'added', after: after! });
    else if (after === undefined) changes.push({ field, kind: 'removed', before });
    else changes.push({ field, kind: 'changed', before, after });
  }
  return changes;
}

/** One entry per model live or in the files, sorted by model. */
export function diffManifests(live: ReadonlyMap<string, ModelManifest>, next: ReadonlyMap<string, ModelManifest>): ModelDiff[] {
  return [...new Set([...live.keys(), ...next.keys()])].sort().map((model): ModelDiff => {
    const was = live.get(model);
    const now = next.get(model);
    if (!now) return { model, status: 'removed', changes: [] };
    const changes = diffFields(was ? manifestFields(was) : new Map(), manifestFields(now));
    return { model, status: !was ? 'added' : changes.length > 0 ? 'changed' : 'unchanged', changes };
  });
}

/**
 * The diff for people: one header line per model, one line per field. `pruned`, when pruning: the
 * models no file declares that are retired (the others were not published from this repository).
 */
export function formatDiff(diffs: readonly ModelDiff[], pruned?: ReadonlySet<string>): string[] {
  const sign = { added: '+', removed: '-', changed: '~' } as const;
  const removed = (model: string): string => `live, but no manifest file declares it (${
    pruned === undefined ? 'left as is; --prune retires it' : pruned.has(model) ? 'retired by --prune' : 'left as is: not published from this repository'
  })`;
  return diffs.flatMap((d) => [
    `${d.model}: ${d.status === 'removed' ? removed(d.model) : d.status}`,
    ...d.changes.map((c) => `  ${sign[c.kind]} ${c.field}: ${c.kind === 'added' ? c.after : c.kind === 'removed' ? c.before : `${c.before} -> ${c.after}`}`),
  ]);
}
