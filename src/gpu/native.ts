/**
 * Opens NVIDIA's shared libraries through koffi. This is the one door from gpuflow to native code:
 * koffi is loaded lazily (so that a machine without its native package still runs the simulated
 * path), and a library that cannot be opened becomes a NoGpuError naming every place tried.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NoGpuError } from '../domain/errors.js';

export type Koffi = typeof import('koffi');
export type NativeLibrary = import('koffi').LibraryHandle;
export type NativeFunction = ReturnType<NativeLibrary['func']>;

let cachedKoffi: Koffi | undefined;

/** koffi itself, or NoGpuError when its native package is missing on this platform. */
export function koffi(): Koffi {
  if (cachedKoffi) return cachedKoffi;
  try {
    cachedKoffi = createRequire(import.meta.url)('koffi') as Koffi;
    return cachedKoffi;
  } catch (cause) {
    throw new NoGpuError('the koffi native package cannot be loaded, so no GPU library can be used', { cause });
  }
}

/** Folders where CUDA toolkits and drivers put their libraries, tried after the loader's own search. */
export function libraryDirs(env: Record<string, string | undefined> = process.env): string[] {
  const dirs = [
    env.GPUFLOW_CUDA_LIB_DIR,
    env.CUDA_HOME && join(env.CUDA_HOME, 'lib64'),
    env.CUDA_PATH && join(env.CUDA_PATH, 'lib64'),
    '/usr/local/cuda/targets/x86_64-linux/lib',
    '/usr/local/cuda/lib64',
    '/usr/local/nvidia/lib64',
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib64',
  ];
  return dirs.filter((d): d is string => typeof d === 'string' && d !== '');
}

/**
 * File names to try for one library, most specific first: e.g. stem 'libcudart', majors ['13', '12']
 * gives libcudart.so, libcudart.so.13, libcudart.so.12, first by bare name (LD_LIBRARY_PATH, ldconfig)
 * and then in each known folder. GPUFLOW_CUDA_LIB_DIR, when set, is searched before anything else.
 */
export function libraryCandidates(stem: string, majors: readonly string[], env: Record<string, string | undefined> = process.env): string[] {
  const names = [`${stem}.so`, ...majors.map((m) => `${stem}.so.${m}`)];
  const dirs = libraryDirs(env);
  const override = env.GPUFLOW_CUDA_LIB_DIR ? names.map((n) => join(env.GPUFLOW_CUDA_LIB_DIR as string, n)) : [];
  const inDirs = dirs.flatMap((d) => names.map((n) => join(d, n)));
  return [...override, ...names, ...inDirs];
}

/** Opens the first candidate that loads; NoGpuError listing what was tried otherwise. */
export function openLibrary(label: string, candidates: readonly string[]): { library: NativeLibrary; path: string } {
  const k = koffi();
  const failures: string[] = [];
  for (const candidate of candidates) {
    if (candidate.startsWith('/') && !existsSync(candidate)) continue;
    try {
      return { library: k.load(candidate), path: candidate };
    } catch (error) {
      failures.push(`${candidate}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const tried = failures.length > 0 ? failures.slice(0, 4).join('; ') : candidates.slice(0, 6).join(', ');
  throw new NoGpuError(`${label} not found (no NVIDIA driver or CUDA toolkit on this machine); tried ${tried}`);
}

/** Declares a function that may be absent from older libraries: undefined instead of a throw. */
export function optionalFunc(library: NativeLibrary, prototype: string): NativeFunction | undefined {
  try {
    return library.func(prototype);
  } catch {
    return undefined;
  }
}

/** koffi answers 64-bit integers as number or bigint depending on size; gpuflow keeps numbers. */
export function toNumber(value: unknown): number {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number') return value;
  throw new TypeError(`expected a number from native code, got ${typeof value}`);
}

/** Device and host pointers travel as bigint addresses (koffi 3). */
export type Pointer = bigint;

export function toPointer(value: unknown): Pointer {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return BigInt(value);
  if (value === null) return 0n;
  throw new TypeError(`expected a pointer from native code, got ${typeof value}`);
}
