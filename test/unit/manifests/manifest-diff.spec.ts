import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { manifestDefaults, type ModelManifest } from '../../../src/domain/events/manifest.js';
import { diffFields, diffManifests, formatDiff, manifestFields, type FieldChange } from '../../../src/manifests/manifest-diff.js';
import { DEMO_MANIFEST } from '../../../src/services/manifests.js';

const name = fc.stringMatching(/^[a-z0-9]{1,4}$/);
const manifest: fc.Arbitrary<ModelManifest> = fc.record(
  {
    model: name,
    version: name,
    executor: fc.constantFrom('cuda', 'cpu', 'kserve-v2', 'simulated'),
    weightsUri: name,
    inputShape: fc.array(fc.integer({ min: 1, max: 512 }), { minLength: 1, maxLength: 3 }),
    dtype: fc.constantFrom('FP32', 'FP16', 'INT32', 'INT64', 'UINT8'),
    memoryPerSampleBytes: fc.integer({ min: 1, max: 1 << 20 }),
    maxBatchSize: fc.integer({ min: 1, max: 512 }),
    preferredBatchSizes: fc.array(fc.integer({ min: 1, max: 512 }), { maxLength: 3 }),
    maxQueueDelayMs: fc.integer({ min: 0, max: 100 }),
    commit: fc.string(),
    sloClasses: fc.subarray(['realtime', 'interactive', 'batch'] as const),
    weightsByVersion: fc.dictionary(name, name, { maxKeys: 3 }),
    canaryVersion: fc.oneof(fc.constant(''), name),
    canaryWeightPercent: fc.constantFrom(0, 5, 10, 50),
    shadowVersion: fc.oneof(fc.constant(''), name),
  },
  // Manifests written before the traffic fields existed lack them.
  { requiredKeys: ['model', 'version', 'executor', 'weightsUri', 'inputShape', 'dtype', 'memoryPerSampleBytes', 'maxBatchSize', 'preferredBatchSizes', 'maxQueueDelayMs', 'commit'] },
) as fc.Arbitrary<ModelManifest>;

/** Applies changes to a field map: what a consumer of the diff would do. */
function apply(fields: Map<string, string>, changes: readonly FieldChange[]): Map<string, string> {
  const out = new Map(fields);
  for (const c of changes) {
    if (c.kind === 'removed') out.delete(c.field);
    else out.set(c.field, c.after!);
  }
  return out;
}

const sortedEntries = (m: Map<string, string>): [string, string][] => [...m].sort(([a], [b]) => (a < b ? -1 : 1));

describe('manifest diff', () => {
  it('names exactly the changed field, before and after', () => {
    const next = { ...DEMO_MANIFEST, maxBatchSize: 128, commit: 'b' };
    expect(diffManifests(new Map([['mlp-small', DEMO_MANIFEST]]), new Map([['mlp-small', next]]))).toEqual([
      { model: 'mlp-small', status: 'changed', changes: [{ field: 'maxBatchSize', kind: 'changed', before: '256', after: '128' }] },
    ]);
  });

  it('says whether a model no file declares stays live or is pruned', () => {
    const diffs = diffManifests(new Map([['mlp-small', DEMO_MANIFEST]]), new Map());
    expect(diffs).toEqual([{ model: 'mlp-small', status: 'removed', changes: [] }]);
    expect(formatDiff(diffs)).toEqual(['mlp-small: live, but no manifest file declares it (left as is; --prune retires it)']);
    expect(formatDiff(diffs, new Set(['mlp-small']))).toEqual(['mlp-small: live, but no manifest file declares it (retired by --prune)']);
    expect(formatDiff(diffs, new Set())).toEqual(['mlp-small: live, but no manifest file declares it (left as is: not published from this repository)']);
  });

  it('shows versions as their own fields, added and removed', () => {
    const live = { ...DEMO_MANIFEST, weightsByVersion: { '1': 'a.safetensors', '2': 'b.safetensors' } };
    const next = { ...DEMO_MANIFEST, weightsByVersion: { '1': 'a.safetensors', '3': 'c.safetensors' }, canaryVersion: '3', canaryWeightPercent: 10 };
    const [d] = diffManifests(new Map([['mlp-small', live]]), new Map([['mlp-small', next]]));
    expect(formatDiff([d!])).toEqual([
      'mlp-small: changed',
      '  ~ canaryVersion: "" -> "3"',
      '  ~ canaryWeightPercent: 0 -> 10',
      '  - weightsByVersion.2: "b.safetensors"',
      '  + weightsByVersion.3: "c.safetensors"',
    ]);
  });

  it('reports models added, unchanged (a new commit alone) and live without a file', () => {
    const diffs = diffManifests(
      new Map([['a', { ...DEMO_MANIFEST, model: 'a', commit: 'old' }], ['gone', { ...DEMO_MANIFEST, model: 'gone' }]]),
      new Map([['a', { ...DEMO_MANIFEST, model: 'a', commit: 'new' }], ['b', { ...DEMO_MANIFEST, model: 'b' }]]),
    );
    expect(diffs.map((d) => [d.model, d.status, d.changes.length])).toEqual([['a', 'unchanged', 0], ['b', 'added', manifestFields(DEMO_MANIFEST).size], ['gone', 'removed', 0]]);
    expect(diffs[1]!.changes.every((c) => c.kind === 'added')).toBe(true);
  });

  it('compares a manifest from before the traffic fields like one with their defaults', () => {
    expect(diffFields(manifestFields(DEMO_MANIFEST), manifestFields(manifestDefaults(DEMO_MANIFEST)))).toEqual([]);
  });

  it('property: nothing differs between a manifest and itself', () => {
    fc.assert(fc.property(manifest, (m) => diffFields(manifestFields(m), manifestFields(m)).length === 0));
  });

  it('property: applying the diff to the live fields gives the new fields, and only differing fields are named', () => {
    fc.assert(
      fc.property(manifest, manifest, (a, b) => {
        const [fa, fb] = [manifestFields(a), manifestFields(b)];
        const changes = diffFields(fa, fb);
        expect(sortedEntries(apply(fa, changes))).toEqual(sortedEntries(fb));
        for (const c of changes) expect(fa.get(c.field)).not.toBe(fb.get(c.field));
        expect(new Set(changes.map((c) => c.field)).size).toBe(changes.length);
      }),
    );
  });

  it('property: the diff backwards is the diff forwards inverted', () => {
    const invert = (c: FieldChange): FieldChange =>
      c.kind === 'added' ? { field: c.field, kind: 'removed', before: c.after! } : c.kind === 'removed' ? { field: c.field, kind: 'added', after: c.before! } : { ...c, before: c.after!, after: c.before! };
    fc.assert(
      fc.property(manifest, manifest, (a, b) => {
        expect(diffFields(manifestFields(b), manifestFields(a))).toEqual(diffFields(manifestFields(a), manifestFields(b)).map(invert));
      }),
    );
  });

  it('property: changing one setting yields exactly that one change', () => {
    const settings = fc.constantFrom<[keyof ModelManifest, unknown]>(['maxBatchSize', 999], ['dtype', 'UINT8'], ['maxQueueDelayMs', 777], ['shadowVersion', 'zz-shadow'], ['inputShape', [3, 3, 3, 3]]);
    fc.assert(
      fc.property(manifest, settings, (m, [field, value]) => {
        fc.pre(JSON.stringify(manifestDefaults(m)[field]) !== JSON.stringify(value));
        const changes = diffFields(manifestFields(m), manifestFields({ ...m, [field]: value }));
        expect(changes.map((c) => [c.field, c.kind, c.after])).toEqual([[field, 'changed', JSON.stringify(value)]]);
      }),
    );
  });
});
