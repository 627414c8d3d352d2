/** Reading weights from the model store, and only from there: a manifest cannot point a worker elsewhere. */
import { readFile, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ConfigError } from '../domain/errors.js';

/** The real path of `uri` inside `store`; a ConfigError when it is absolute, missing or leads outside. */
export async function resolveInStore(store: string, uri: string): Promise<string> {
  const root = resolve(store);
  if (isAbsolute(uri) || uri.includes('\0')) throw new ConfigError(`weights '${uri}' must be a relative path inside the model store`);
  let real: string;
  try {
    real = await realpath(resolve(root, uri));
  } catch (cause) {
    throw new ConfigError(`weights '${uri}' not found in the model store ${root}`, { cause });
  }
  // Checked after resolving links, so a symbolic link cannot lead out either.
  const inside = relative(await realpath(root), real);
  if (inside.startsWith('..') || isAbsolute(inside) || inside.split(sep).includes('..')) {
    throw new ConfigError(`weights '${uri}' resolve outside the model store ${root}`);
  }
  return real;
}

export function modelStoreReader(store: string): (uri: string) => Promise<Uint8Array> {
  return async (uri) => new Uint8Array(await readFile(await resolveInStore(store, uri)));
}
