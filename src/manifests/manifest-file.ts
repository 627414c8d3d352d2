/**
 * One model's manifest file (YAML, one file per model, named after the model) parsed and checked
 * into the ModelManifest it publishes. Pure: the weights' place in the model store is checked by
 * the caller, which has the file system (see `weightsToCheck`). Every problem names the field, and
 * all problems of a file are reported at once, so one edit fixes them. The format is in docs/models.md.
 */
import { parseDocument } from 'yaml';
import { SLO_CLASSES, type SloClass } from '../domain/events/request.js';
import type { DType } from '../domain/events/tensor.js';
import type { ExecutorKind, ModelManifest } from '../domain/events/manifest.js';
import { ManifestError, type ManifestProblem } from './manifest-error.js';

export const EXECUTORS: readonly ExecutorKind[] = ['cuda', 'cpu', 'kserve-v2', 'simulated'];
export const DTYPES: readonly DType[] = ['FP32', 'FP16', 'INT32', 'INT64', 'UINT8'];

/** Names key a compacted topic, Redis documents and metric labels: plain identifiers. */
export const MODEL_NAME = /^[A-Za-z0-9._-]{1,64}$/;
export const VERSION_NAME = /^[A-Za-z0-9._-]{1,32}$/;
/** Largest batch a manifest may declare; beyond it one batch would hold minutes of a GPU. */
export const MAX_BATCH_SIZE = 8192;
/** Memory per sample × max batch must fit one device; 192 GiB is the largest single GPU sold today. */
export const MAX_BATCH_MEMORY_BYTES = 192 * 2 ** 30;
/** A longer wait belongs to an offline job, not a serving queue. */
export const MAX_QUEUE_DELAY_MS = 60_000;

/** A parsed file: the manifest to publish (commit still '') and the weights the model store must hold. */
export interface ManifestFile {
  file: string;
  manifest: Required<ModelManifest>;
  /** Weights given as model-store paths, with the field that gave them. */
  weightsToCheck: { field: string; uri: string }[];
}

const TOP_FIELDS = ['model', 'executor', 'inputShape', 'dtype', 'memoryPerSampleBytes', 'maxBatchSize', 'preferredBatchSizes', 'maxQueueDelayMs', 'sloClasses', 'versions', 'traffic'];
const REQUIRED = TOP_FIELDS.filter((f) => f !== 'sloClasses');

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** Collects problems while reading one file; each reader returns a usable value or undefined. */
class Reader {
  readonly problems: ManifestProblem[] = [];
  constructor(readonly file: string) {}

  problem(field: string, message: string): undefined {
    this.problems.push({ file: this.file, field, message });
    return undefined;
  }

  /** Refuses fields the format does not know (a typo would otherwise be silently ignored) and missing required ones. */
  fields(o: Obj, at: string, known: readonly string[], required: readonly string[]): void {
    for (const k of Object.keys(o)) if (!known.includes(k)) this.problem(at + k, `unknown field (known: ${known.join(', ')})`);
    for (const k of required) if (!(k in o)) this.problem(at + k, 'is required');
  }

  int(v: unknown, field: string, min: number, max: number): number | undefined {
    if (typeof v !== 'number' || !Number.isInteger(v)) return this.problem(field, `must be an integer, got ${show(v)}`);
    if (v < min || v > max) return this.problem(field, `must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`}, got ${v}`);
    return v;
  }

  ints(v: unknown, field: string, min: number, max: number, nonEmpty: boolean): number[] | undefined {
    if (!Array.isArray(v)) return this.problem(field, `must be a list of integers, got ${show(v)}`);
    if (nonEmpty && v.length === 0) return this.problem(field, 'must not be empty');
    const out = v.map((x, i) => this.int(x, `${field}[${i}]`, min, max));
    return out.every((x) => x !== undefined) ? (out as number[]) : undefined;
  }

  oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[]): T | undefined {
    return typeof v === 'string' && (allowed as readonly string[]).includes(v) ? (v as T) : this.problem(field, `must be one of ${allowed.join(', ')}, got ${show(v)}`);
  }

  /** A name; whole numbers are taken as written (`version: 2`), since YAML reads them as numbers. */
  name(v: unknown, field: string, pattern: RegExp): string | undefined {
    const s = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v;
    return typeof s === 'string' && pattern.test(s) ? s : this.problem(field, `must be a name of ${pattern.source.slice(1, -1)}, got ${show(v)}`);
  }
}

/** The model name a manifest file must declare: its file name without .yaml/.yml. */
export const modelOfFileName = (file: string): string => (file.split('/').pop() ?? file).replace(/\.ya?ml$/, '');

export function parseManifestFile(file: string, text: string): ManifestFile {
  const r = new Reader(file);
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) throw new ManifestError(doc.errors.map((e) => ({ file, field: '', message: `not valid YAML: ${e.message.split('\n')[0]}` })));
  const root: unknown = doc.toJS();
  if (!isObj(root)) throw new ManifestError([{ file, field: '', message: 'must be a YAML mapping of the manifest fields' }]);
  r.fields(root, '', TOP_FIELDS, REQUIRED);

  const model = r.name(root.model, 'model', MODEL_NAME);
  if (model !== undefined && model !== modelOfFileName(file)) r.problem('model', `'${model}' must match the file name (${modelOfFileName(file)}.yaml): one file per model`);
  const executor = r.oneOf(root.executor, 'executor', EXECUTORS);
  const dtype = r.oneOf(root.dtype, 'dtype', DTYPES);
  const inputShape = r.ints(root.inputShape, 'inputShape', 1, 2 ** 31 - 1, true);
  const memoryPerSampleBytes = r.int(root.memoryPerSampleBytes, 'memoryPerSampleBytes', 1, Number.MAX_SAFE_INTEGER);
  const maxBatchSize = r.int(root.maxBatchSize, 'maxBatchSize', 1, MAX_BATCH_SIZE);
  const maxQueueDelayMs = r.int(root.maxQueueDelayMs, 'maxQueueDelayMs', 0, MAX_QUEUE_DELAY_MS);
  const preferredBatchSizes = r.ints(root.preferredBatchSizes, 'preferredBatchSizes', 1, MAX_BATCH_SIZE, false);
  if (memoryPerSampleBytes !== undefined && maxBatchSize !== undefined && memoryPerSampleBytes * maxBatchSize > MAX_BATCH_MEMORY_BYTES) {
    r.problem('memoryPerSampleBytes', `× maxBatchSize is ${((memoryPerSampleBytes * maxBatchSize) / 2 ** 30).toFixed(1)} GiB, more than one device holds (${MAX_BATCH_MEMORY_BYTES / 2 ** 30} GiB)`);
  }
  if (preferredBatchSizes && maxBatchSize !== undefined) {
    preferredBatchSizes.forEach((s, i) => s > maxBatchSize && r.problem(`preferredBatchSizes[${i}]`, `${s} exceeds maxBatchSize ${maxBatchSize}`));
    if (new Set(preferredBatchSizes).size !== preferredBatchSizes.length) r.problem('preferredBatchSizes', 'must not repeat a size');
  }

  let sloClasses: SloClass[] | undefined = [];
  if (root.sloClasses !== undefined) {
    if (!Array.isArray(root.sloClasses) || root.sloClasses.length === 0) sloClasses = r.problem('sloClasses', `must be a non-empty list of ${SLO_CLASSES.join(', ')} (leave it out for every class)`);
    else {
      const read = root.sloClasses.map((c, i) => r.oneOf(c, `sloClasses[${i}]`, SLO_CLASSES));
      sloClasses = read.every((c) => c !== undefined) ? (read as SloClass[]) : undefined;
      if (sloClasses && new Set(sloClasses).size !== sloClasses.length) sloClasses = r.problem('sloClasses', 'must not repeat a class');
    }
  }

  const weightsByVersion: Record<string, string> = {};
  const declaredVersions = new Set<string>();
  const weightsToCheck: ManifestFile['weightsToCheck'] = [];
  if (root.versions !== undefined && (!Array.isArray(root.versions) || root.versions.length === 0)) r.problem('versions', 'must be a non-empty list of { version, weights }');
  else if (Array.isArray(root.versions)) {
    root.versions.forEach((v, i) => {
      const at = `versions[${i}]`;
      if (!isObj(v)) return r.problem(at, 'must be a mapping { version, weights }');
      r.fields(v, `${at}.`, ['version', 'weights'], ['version', 'weights']);
      const version = r.name(v.version, `${at}.version`, VERSION_NAME);
      const weights = weightsOf(r, v.weights, `${at}.weights`, executor);
      if (version !== undefined && declaredVersions.has(version)) return r.problem(`${at}.version`, `'${version}' is declared twice`);
      // Declared even with bad weights, so traffic naming it is not refused a second time.
      if (version !== undefined) declaredVersions.add(version);
      if (version === undefined || weights === undefined) return;
      weightsByVersion[version] = weights;
      if (executor !== 'kserve-v2') weightsToCheck.push({ field: `${at}.weights`, uri: weights });
    });
  }

  const declared = (v: string | undefined, field: string): string | undefined =>
    v === undefined || declaredVersions.has(v) ? v : r.problem(field, `'${v}' is not a declared version (${[...declaredVersions].join(', ') || 'none'})`);
  let stable: string | undefined;
  let canary = { version: '', weightPercent: 0 };
  let shadow = '';
  if (root.traffic !== undefined && !isObj(root.traffic)) r.problem('traffic', 'must be a mapping { stable, canary?, shadow? }');
  else if (isObj(root.traffic)) {
    const t = root.traffic;
    r.fields(t, 'traffic.', ['stable', 'canary', 'shadow'], ['stable']);
    stable = declared(r.name(t.stable, 'traffic.stable', VERSION_NAME), 'traffic.stable');
    if (t.canary !== undefined) {
      if (!isObj(t.canary)) r.problem('traffic.canary', 'must be a mapping { version, weightPercent }');
      else {
        r.fields(t.canary, 'traffic.canary.', ['version', 'weightPercent'], ['version', 'weightPercent']);
        const version = declared(r.name(t.canary.version, 'traffic.canary.version', VERSION_NAME), 'traffic.canary.version');
        const w = t.canary.weightPercent;
        const weightPercent = typeof w === 'number' && w > 0 && w < 100 ? w : r.problem('traffic.canary.weightPercent', `must be a number above 0 and below 100, got ${show(w)}`);
        if (version !== undefined && version === stable) r.problem('traffic.canary.version', `'${version}' is already the stable version`);
        if (version !== undefined && weightPercent !== undefined) canary = { version, weightPercent };
      }
    }
    if (t.shadow !== undefined) {
      const version = declared(r.name(t.shadow, 'traffic.shadow', VERSION_NAME), 'traffic.shadow');
      if (version !== undefined && version === stable) r.problem('traffic.shadow', `'${version}' is already the stable version`);
      else if (version !== undefined) shadow = version;
    }
  }

  if (r.problems.length > 0) throw new ManifestError(r.problems);
  const defined = [model, executor, dtype, inputShape, memoryPerSampleBytes, maxBatchSize, maxQueueDelayMs, preferredBatchSizes, sloClasses, stable];
  // Without problems every field was read; the check keeps the compiler and a future edit honest.
  if (defined.some((v) => v === undefined)) throw new ManifestError([{ file, field: '', message: 'incomplete manifest' }]);
  return {
    file,
    manifest: {
      model: model!,
      version: stable!,
      executor: executor!,
      weightsUri: weightsByVersion[stable!]!,
      inputShape: inputShape!,
      dtype: dtype!,
      memoryPerSampleBytes: memoryPerSampleBytes!,
      maxBatchSize: maxBatchSize!,
      preferredBatchSizes: preferredBatchSizes!,
      maxQueueDelayMs: maxQueueDelayMs!,
      commit: '',
      sloClasses: sloClasses!,
      weightsByVersion,
      canaryVersion: canary.version,
      canaryWeightPercent: canary.weightPercent,
      shadowVersion: shadow,
    },
    weightsToCheck,
  };
}

/** Weights: a model-store path for local executors, a KServe v2 base URL (http or https) for kserve-v2. */
function weightsOf(r: Reader, v: unknown, field: string, executor: ExecutorKind | undefined): string | undefined {
  if (typeof v !== 'string' || v === '') return r.problem(field, `must be a non-empty string, got ${show(v)}`);
  if (executor !== 'kserve-v2') return v;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return r.problem(field, `must be a KServe v2 base URL for executor kserve-v2, got ${show(v)}`);
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? v : r.problem(field, `must be an http or https URL for executor kserve-v2, got ${show(v)}`);
}
