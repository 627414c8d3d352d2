/**
 * A directory of manifest files read and checked as one: every file parsed, every weights path
 * put through the model store's own rule (the one workers read through, so publish refuses exactly
 * what a worker would refuse), and all problems of all files reported together.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, describeError } from '../domain/errors.js';
import { resolveInStore } from '../gpu/model-store.js';
import { ManifestError, type ManifestProblem } from './manifest-error.js';
import { parseManifestFile, type ManifestFile } from './manifest-file.js';

export const isManifestFileName = (name: string): boolean => /\.ya?ml$/.test(name);

export async function readManifestDir(dir: string, modelStore: string): Promise<ManifestFile[]> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && isManifestFileName(e.name)).map((e) => e.name).sort();
  } catch (cause) {
    throw new ConfigError(`cannot read the manifests directory ${dir}`, { cause });
  }
  if (names.length === 0) throw new ConfigError(`${dir} holds no manifest files (*.yaml, *.yml)`);
  const problems: ManifestProblem[] = [];
  const files: ManifestFile[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      const parsed = parseManifestFile(path, await readFile(path, 'utf8'));
      for (const w of parsed.weightsToCheck) {
        try {
          await resolveInStore(modelStore, w.uri);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          problems.push({ file: path, field: w.field, message: describeError(error) });
        }
      }
      files.push(parsed);
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      problems.push(...error.problems);
    }
  }
  const byModel = new Map<string, string>();
  for (const f of files) {
    const first = byModel.get(f.manifest.model);
    if (first) problems.push({ file: f.file, field: 'model', message: `'${f.manifest.model}' is also declared in ${first}` });
    else byModel.set(f.manifest.model, f.file);
  }
  if (problems.length > 0) throw new ManifestError(problems);
  return files;
}
