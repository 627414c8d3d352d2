/**
 * `gpuflow` commands as child processes of a test, run from source: start one, wait until it
 * prints its first line (every long-running command does once it serves), kill it with any
 * signal, and kill whatever is left when the file is done.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

const CLI = ['--import', 'tsx', 'src/cli/run.ts'];
const quiet = (): NodeJS.ProcessEnv => ({ ...process.env, GPUFLOW_LOG: 'error' });

export interface SpawnOptions {
  /** Defaults to this process's environment with GPUFLOW_LOG=error. */
  env?: NodeJS.ProcessEnv;
  /** 'pipe' to read what the command reports on stderr; inherited otherwise. */
  stderr?: 'pipe' | 'inherit';
}

export interface Children {
  /** Starts `gpuflow ARGS`; stdout is piped (for `ready`). */
  gpuflow(args: string[], options?: SpawnOptions): ChildProcess;
  /** SIGKILLs every child still running. */
  killAll(): Promise<void>;
}

export function children(): Children {
  const live = new Set<ChildProcess>();
  return {
    gpuflow(args, { env = quiet(), stderr = 'inherit' } = {}) {
      const child = spawn(process.execPath, [...CLI, ...args], { env, stdio: ['ignore', 'pipe', stderr] });
      live.add(child);
      child.once('exit', () => live.delete(child));
      return child;
    },
    killAll: async () => void (await Promise.all([...live].map((c) => kill(c, 'SIGKILL')))),
  };
}

/** `gpuflow ARGS` to completion: its exit code and output. */
export function gpuflowSync(args: string[], env: NodeJS.ProcessEnv = quiet()): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...CLI, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

/** Resolves when the process prints its first line; rejects if it exits first or takes over 120 s. */
export function ready(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within 120 s`)), 120_000);
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      child.stdout!.resume();
      resolve();
    });
    child.once('exit', (code, signal) => (clearTimeout(timer), reject(new Error(`${what} exited (${signal ?? code}) before starting`))));
  });
}

/** Resolves with the exit code once the process has exited (null when killed by a signal). */
export const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => (running(child) ? child.once('exit', (code) => resolve(code)) : resolve(child.exitCode)));

/** Sends `signal` and waits for the exit; the exit code (null when killed by a signal). */
export async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  if (!running(child)) return child.exitCode;
  const done = exited(child);
  child.kill(signal);
  return done;
}
