/**
 * Starting and stopping the stack's processes. Each runs detached with its output appended to
 * $GPUFLOW_HOME/logs/NAME.log and its pid in $GPUFLOW_HOME/run/NAME.pid. A pid is trusted only while
 * /proc says that process is alive and still looks like the one we started (its command line and
 * working directory match), so a reused pid never gets a signal from us.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, readSync, rmSync, statSync, writeFileSync, fstatSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { StackError } from '../domain/errors.js';
import type { Logger } from '../log.js';

export interface ProcessSpec {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
}

/** A process as /proc shows it: what `Component.owns` decides on. */
export interface ProcInfo {
  cmdline: string[];
  cwd: string | undefined;
}

export type Owns = (proc: ProcInfo) => boolean;

export const logFile = (home: string, name: string): string => join(home, 'logs', `${name}.log`);
export const pidFile = (home: string, name: string): string => join(home, 'run', `${name}.pid`);

/** Alive and not a zombie (a child that exited but was not yet reaped still has a /proc entry). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function procInfo(pid: number): ProcInfo | undefined {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    let cwd: string | undefined;
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      cwd = undefined;
    }
    return { cmdline, cwd };
  } catch {
    return undefined;
  }
}

/** The pid from NAME.pid when that process is alive and still the one we started; otherwise undefined. */
export function ownedPid(home: string, name: string, owns: Owns): number | undefined {
  const file = pidFile(home, name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return undefined;
  const info = procInfo(pid);
  return info && owns(info) ? pid : undefined;
}

/** Starts the process detached from us, output appended to its log; returns its pid and where this run's log begins. */
export async function spawnDetached(home: string, spec: ProcessSpec): Promise<{ pid: number; logOffset: number }> {
  mkdirSync(join(home, 'logs'), { recursive: true });
  mkdirSync(join(home, 'run'), { recursive: true });
  const log = logFile(home, spec.name);
  const fd = openSync(log, 'a');
  const logOffset = fstatSync(fd).size;
  writeFileSync(fd, `\n=== gpuflow ${new Date().toISOString()} starting ${spec.name}: ${spec.command} ${spec.args.join(' ')}\n`);
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error('no pid');
    writeFileSync(pidFile(home, spec.name), `${pid}\n`);
    return { pid, logOffset };
  } catch (cause) {
    throw new StackError(spec.name, `cannot run ${spec.command}: ${(cause as Error).message}`, undefined, { cause });
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; only a process we own. Returns the pid it stopped, if any. */
export async function stopOwned(home: string, name: string, owns: Owns, graceMs: number, logger: Logger): Promise<number | undefined> {
  const pid = ownedPid(home, name, owns);
  const file = pidFile(home, name);
  if (pid === undefined) {
    rmSync(file, { force: true });
    return undefined;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    logger.warn('stack.kill', { component: name, pid, graceMs });
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(50);
  }
  rmSync(file, { force: true });
  return pid;
}

/** The last `lines` lines of a log, from `fromOffset` on when given (this run's part only). */
export function tailLog(file: string, lines = 20, fromOffset = 0): string {
  if (!existsSync(file)) return '(no log)';
  const size = statSync(file).size;
  const start = Math.max(fromOffset, size - 64 * 1024);
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(size - start);
    readSync(fd, buffer, 0, buffer.length, start);
    return buffer.toString('utf8').split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}

/** This run's part of a log (from `fromOffset`), for start-up markers. */
export function readLogFrom(file: string, fromOffset: number): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  if (size <= fromOffset) return '';
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(size - fromOffset);
    readSync(fd, buffer, 0, buffer.length, fromOffset);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export interface WaitOptions {
  name: string;
  pid: number;
  log: string;
  logOffset: number;
  timeoutMs: number;
  hint: string;
  intervalMs?: number;
}

/**
 * Polls `ready` until it holds. Fails fast with the log's last lines when the process exits, and
 * after the deadline (the process is then left for the caller to stop).
 */
export async function waitReady(ready: () => Promise<boolean>, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await ready()) return;
    if (!isAlive(options.pid)) {
      throw new StackError(options.name, `exited during start; last log lines (${options.log}):\n${tailLog(options.log, 20, options.logOffset)}`, options.hint);
    }
    if (Date.now() > deadline) {
      throw new StackError(
        options.name,
        `not ready after ${Math.round(options.timeoutMs / 1000)}s; last log lines (${options.log}):\n${tailLog(options.log, 20, options.logOffset)}`,
        options.hint,
      );
    }
    await sleep(options.intervalMs ?? 250);
  }
}

/** The absolute path of an executable on PATH, or undefined. */
export function which(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Runs a tool to completion; rejects with its stderr's end when it fails. */
export function runTool(command: string, args: string[], options: { cwd?: string; timeoutMs: number; env?: Record<string, string> }): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs, maxBuffer: 32 * 1024 * 1024, env: { ...process.env, ...options.env } },
      (error, stdout, stderr) => {
        if (error) {
          const output = `${stdout}\n${stderr}`.split('\n').filter((l) => l.trim() !== '').slice(-15).join('\n');
          reject(new Error(`${command} ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${output}`, { cause: error }));
        } else resolve({ stdout, stderr });
      },
    );
  });
}

/**
 * Holds run/NAME.lock while one process starts a component, so two `up`s at once never spawn two
 * copies (the loser would overwrite the winner's pid file). A lock whose holder died is taken over.
 * Resolves to the release function once the lock is ours.
 */
export async function acquireStartLock(home: string, name: string, timeoutMs: number): Promise<() => void> {
  mkdirSync(join(home, 'run'), { recursive: true });
  const lock = join(home, 'run', `${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(lock, 'utf8').trim());
    if (!Number.isInteger(holder) || !isAlive(holder)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new StackError(name, `another process (pid ${holder}) has been starting it for ${Math.round(timeoutMs / 1000)}s`, `remove ${lock} if that process is gone`);
    await sleep(250);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
