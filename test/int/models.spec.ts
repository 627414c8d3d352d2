/**
 * `gpuflow models publish` against the real stack: a temporary git repository of two manifest
 * files is published and listed back as it is in the files; a one-field change shows as exactly
 * that change and is published with its new commit; bad files and a dirty tree are refused with
 * one line and a non-zero exit, and nothing reaches models.manifests. A model whose file goes is
 * left live unless --prune retires it; `models retire` retires one by name. Every model the file
 * publishes is retired by its end, so later suites' workers do not try to load their weights.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestDefaults, type ModelManifest } from '../../src/domain/events/manifest.js';
import { parseManifestFile } from '../../src/manifests/manifest-file.js';
import { readAvroSchema } from '../../src/kafka/codecs/avro-events.js';
import { endOffsets } from '../../src/kafka/offsets.js';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { bootstrap } from '../../src/services/bootstrap.js';
import { MANIFESTS_TOPIC } from '../../src/services/manifests.js';
import { publishTestManifest, testConfig, testKafka, testLogger } from '../helpers/kafka.js';

const run = randomUUID().slice(0, 6);
const root = mkdtempSync(join(tmpdir(), 'gpuflow-models-'));
const store = join(root, 'store');
const repo = join(root, 'repo');
const A = `ma-${run}`;
const B = `mb-${run}`;
/** Published by hand, not from the repository. */
const C = `mc-${run}`;

const manifestA = `model: ${A}
executor: simulated
inputShape: [64]
dtype: FP32
memoryPerSampleBytes: 1536
maxBatchSize: 256
preferredBatchSizes: [16, 32, 64, 128]
maxQueueDelayMs: 5
versions:
  - version: "1"
    weights: a/v1.safetensors
traffic:
  stable: "1"
`;

const manifestB = `model: ${B}
executor: cpu
inputShape: [3, 32, 32]
dtype: FP16
memoryPerSampleBytes: 65536
maxBatchSize: 64
preferredBatchSizes: [8, 16]
maxQueueDelayMs: 10
sloClasses: [interactive, batch]
versions:
  - version: "1"
    weights: b/v1.safetensors
  - version: "2"
    weights: b/v2.safetensors
traffic:
  stable: "1"
  canary: { version: "2", weightPercent: 10 }
`;

const git = (...args: string[]): string => execFileSync('git', ['-C', repo, '-c', 'user.name=gpuflow test', '-c', 'user.email=test@gpuflow.invalid', ...args], { encoding: 'utf8' }).trim();

function commit(files: Record<string, string>, message: string): string {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(repo, name), text);
  git('add', '-A');
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

/** `gpuflow ARGS` to completion. */
function gpuflow(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', ...args], { env: { ...process.env, GPUFLOW_LOG: 'error' }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const publish = (...flags: string[]) => gpuflow(['models', 'publish', repo, '--store', store, ...flags]);

/** The live manifests of this file's models, by `gpuflow models list --json`. */
function listed(): Map<string, ModelManifest> {
  const r = gpuflow(['models', 'list', '--json']);
  expect(r.code, r.stderr).toBe(0);
  const all = JSON.parse(r.stdout) as ModelManifest[];
  return new Map(all.filter((m) => [A, B, C].includes(m.model)).map((m) => [m.model, m]));
}

/** What the files say, stamped with `commit`. */
const fromFile = (model: string, commitId: string): ModelManifest => {
  const path = join(repo, `${model}.yaml`);
  return { ...parseManifestFile(path, readFileSync(path, 'utf8')).manifest, commit: commitId };
};

const topicEnd = async (): Promise<string> => JSON.stringify([...(await endOffsets(testKafka(), MANIFESTS_TOPIC))].sort());

let first = '';

beforeAll(async () => {
  await bootstrap(testConfig(), testLogger(), { startStack: false });
  for (const path of ['a/v1.safetensors', 'b/v1.safetensors', 'b/v2.safetensors', 'b/v3.safetensors']) {
    mkdirSync(join(store, path, '..'), { recursive: true });
    writeFileSync(join(store, path), 'weights');
  }
  writeFileSync(join(root, 'outside.safetensors'), 'not in the store');
  mkdirSync(repo);
  git('init', '-q');
  first = commit({ [`${A}.yaml`]: manifestA, [`${B}.yaml`]: manifestB }, 'two models');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the ModelManifest schema with traffic fields', () => {
  /** The fields that came with traffic settings; the schema without them is the one already registered in existing deployments. */
  const ADDED = ['sloClasses', 'weightsByVersion', 'canaryVersion', 'canaryWeightPercent', 'shadowVersion'];

  it('is accepted by the registry as a BACKWARD-compatible next version, and old records read as the defaults', async () => {
    const registry = createRegistryClient(testConfig().schemaRegistryUrl);
    const current = JSON.parse(readAvroSchema('model-manifest')) as { fields: { name: string }[] };
    const before = JSON.stringify({ ...current, fields: current.fields.filter((f) => !ADDED.includes(f.name)) });
    const subject = `models-compat-${run}-value`;
    const oldId = await registry.register(subject, before);
    expect(await registry.isCompatible(subject, readAvroSchema('model-manifest'))).toEqual({ compatible: true, reason: 'compatible' });
    // The check has teeth: a field without a default is refused.
    const required = JSON.stringify({ ...current, fields: [...current.fields, { name: 'owner', type: 'string' }] });
    expect(await registry.isCompatible(subject, required)).toMatchObject({ compatible: false });
    expect(await registry.register(subject, readAvroSchema('model-manifest'))).not.toBe(oldId);

    const old: ModelManifest = { model: A, version: '1', executor: 'cpu', weightsUri: 'a/v1.safetensors', inputShape: [4], dtype: 'FP32', memoryPerSampleBytes: 16, maxBatchSize: 8, preferredBatchSizes: [], maxQueueDelayMs: 1, commit: '' };
    const decoded = (await registry.decode(await registry.encode(oldId, old))) as ModelManifest;
    expect(manifestDefaults({ ...decoded })).toEqual({ ...old, sloClasses: [], weightsByVersion: {}, canaryVersion: '', canaryWeightPercent: 0, shadowVersion: '' });
  });
});

describe('gpuflow models publish', () => {
  it('publishes two models, and the live list equals the files with their commit', async () => {
    const dry = publish('--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`${A}: added`);
    expect(dry.stdout).toContain(`${B}: added`);
    expect(dry.stdout).toContain('(dry run)');
    expect(listed().size).toBe(0);

    const r = publish();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${B}: added`);
    expect(r.stdout).toContain('  + canaryWeightPercent: 10');
    expect(r.stdout).toContain(`models: published 2 manifest(s) at commit ${first.slice(0, 12)}`);
    expect(listed()).toEqual(new Map([[A, fromFile(A, first)], [B, fromFile(B, first)]]));
  });

  it('shows exactly a changed field and publishes it with the new commit', async () => {
    const second = commit({ [`${B}.yaml`]: manifestB.replace('maxBatchSize: 64', 'maxBatchSize: 32') }, 'smaller batches');
    const before = await topicEnd();
    const r = publish();
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith(A) || l.startsWith(B) || l.startsWith('  '))).toEqual([`${A}: unchanged`, `${B}: changed`, '  ~ maxBatchSize: 64 -> 32']);
    expect(lines.at(-1)).toBe(`models: published 1 manifest(s) at commit ${second.slice(0, 12)}`);
    expect(await topicEnd()).not.toBe(before);
    const live = listed();
    expect(live.get(B)).toEqual(fromFile(B, second));
    expect(live.get(B)!.maxBatchSize).toBe(32);
    // The unchanged model keeps the commit that last changed it.
    expect(live.get(A)).toEqual(fromFile(A, first));

    const again = publish();
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('models: nothing to publish');
  });

  it.each([
    ['a weights path outside the model store', 'weights: b/v2.safetensors', 'weights: ../outside.safetensors', /versions\[1\]\.weights: weights '\.\.\/outside\.safetensors' resolve outside the model store/],
    ['a negative size', 'memoryPerSampleBytes: 65536', 'memoryPerSampleBytes: -1', /memoryPerSampleBytes: must be at least 1, got -1/],
    ['an unknown field', 'maxQueueDelayMs: 10', 'maxQueueDelayMs: 10\nmaxQueueDelay: 10', /maxQueueDelay: unknown field/],
  ])('refuses %s with one line, a non-zero exit and nothing published', async (_what, from, to, reason) => {
    const head = git('rev-parse', 'HEAD');
    const bad = commit({ [`${B}.yaml`]: manifestB.replace('maxBatchSize: 64', 'maxBatchSize: 32').replace(from, to) }, 'a bad manifest');
    const before = await topicEnd();
    const r = publish();
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const stderr = r.stderr.trimEnd();
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toContain(`${join(repo, `${B}.yaml`)}: `);
    expect(stderr).toMatch(reason);
    expect(stderr).toContain('nothing published');
    expect(await topicEnd()).toBe(before);
    expect(listed().get(B)!.commit).not.toBe(bad);
    git('revert', '--no-edit', 'HEAD');
    expect(git('diff', head, 'HEAD')).toBe('');
  });

  it('refuses files that differ from their commit, unless --allow-dirty, which says so in the stamp', async () => {
    const head = git('rev-parse', 'HEAD');
    writeFileSync(join(repo, `${A}.yaml`), manifestA.replace('maxQueueDelayMs: 5', 'maxQueueDelayMs: 7'));
    const before = await topicEnd();
    const r = publish();
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`differs from commit ${head.slice(0, 12)} (${A}.yaml): commit first, or --allow-dirty`);
    expect(await topicEnd()).toBe(before);

    const dirty = publish('--allow-dirty');
    expect(dirty.code, dirty.stderr).toBe(0);
    expect(dirty.stdout).toContain('  ~ maxQueueDelayMs: 5 -> 7');
    expect(listed().get(A)).toEqual({ ...fromFile(A, `${head}-dirty`), maxQueueDelayMs: 7 });
  });

  it('leaves a model no file declares live, unless --prune, which retires it if the repository published it', async () => {
    await publishTestManifest({ ...fromFile(A, ''), model: C });
    rmSync(join(repo, `${B}.yaml`));
    const third = commit({}, 'B goes');
    const kept = publish();
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toContain(`${B}: live, but no manifest file declares it (left as is; --prune retires it)`);
    expect(listed().has(B)).toBe(true);

    const dry = publish('--prune', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`${B} would be retired (dry run)`);
    expect(listed().has(B)).toBe(true);

    const pruned = publish('--prune');
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toContain(`${B}: live, but no manifest file declares it (retired by --prune)`);
    expect(pruned.stdout).toContain(`${C}: live, but no manifest file declares it (left as is: not published from this repository)`);
    expect(pruned.stdout).toContain(`at commit ${third.slice(0, 12)}; retired ${B}`);
    expect([...listed().keys()].sort()).toEqual([A, C]);
  });
});

describe('gpuflow models retire', () => {
  it('retires a live model by name, and refuses one that is not live with one line', async () => {
    const before = await topicEnd();
    const unknown = gpuflow(['models', 'retire', A, `nope-${run}`]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain(`models retire: not live: nope-${run}`);
    expect(await topicEnd()).toBe(before);

    const r = gpuflow(['models', 'retire', A, C]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`models: retired ${A}, ${C}`);
    expect(listed().size).toBe(0);
  });
});
