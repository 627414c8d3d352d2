/**
 * `gpuflow` commands as child processes of a test, run from source: start one, wait until it
 * prints its first line (every long-running command does once it serves), kill it with any
 * signal, and kill whatever is left when the file is done.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Children {
  /** Starts `gpuflow ARGS`; stdout is piped (for `ready`), stderr inherited. */
  gpuflow(args: string[], env?: NodeJS.ProcessEnv): ChildProcess;
  /** SIGKILLs every child still running. */
  killAll(): Promise<void>;
}

export function children(): Children {
  const live = new Set<ChildProcess>();
  return {
    gpuflow(args, env = { ...process.env, GPUFLOW_LOG: 'error' }) {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      live.add(child);
      child.once('exit', () => live.delete(child));
      return child;
    },
    killAll: async () => void (await Promise.all([...live].map((c) => kill(c, 'SIGKILL')))),
  };
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

/** Sends `signal` and waits for the exit; the exit code (null when killed by a signal). */
export async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  if (!running(child)) return child.exitCode;
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill(signal);
  });
}
