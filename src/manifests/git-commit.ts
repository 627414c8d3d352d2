/** Where the manifests come from: the git commit of their directory, and whether the files differ from it. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ConfigError } from '../domain/errors.js';

const run = promisify(execFile);

export interface GitState {
  commit: string;
  /** Paths under the directory that differ from the commit (modified, staged or untracked). */
  uncommitted: string[];
}

async function git(dir: string, args: string[]): Promise<string> {
  try {
    return (await run('git', ['-C', dir, ...args], { encoding: 'utf8' })).stdout;
  } catch (cause) {
    const stderr = String((cause as { stderr?: unknown }).stderr ?? '').trim().split('\n')[0];
    throw new ConfigError(`${dir} is not a git checkout with a commit (git ${args[0]}: ${stderr || 'failed'})`, { cause });
  }
}

export async function gitState(dir: string): Promise<GitState> {
  const commit = (await git(dir, ['rev-parse', '--verify', 'HEAD'])).trim();
  const status = await git(dir, ['status', '--porcelain', '--untracked-files=all', '--', '.']);
  return { commit, uncommitted: status.split('\n').filter(Boolean).map((line) => line.slice(3)) };
}

/** Whether `commit` is HEAD or an ancestor of it in the checkout at `dir`: false for '', or a commit the checkout does not hold. */
export async function inHistory(dir: string, commit: string): Promise<boolean> {
  if (!/^[0-9a-f]{40}$/.test(commit)) return false;
  try {
    await run('git', ['-C', dir, 'merge-base', '--is-ancestor', commit, 'HEAD']);
    return true;
  } catch {
    return false;
  }
}
