/**
 * The live pipeline's processes for a soak, each its own `gpuflow` child started the way this
 * process was started (compiled or from source): a dispatcher, simulated workers and a projector.
 * Each is ready once it prints its first line; stopping sends SIGTERM, then SIGKILL after a grace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { GpuflowError } from '../domain/errors.js';

export interface PipelineProcess {
  name: string;
  child: ChildProcess;
  pid: number;
}

export interface PipelineLayout {
  runId: string;
  workers: number;
  env: NodeJS.ProcessEnv;
}

export interface StartedPipeline {
  processes: PipelineProcess[];
  dispatcherGroup: string;
  projectorGroup: string;
  projectorPrefix: string;
  workerIds: string[];
  stop(): Promise<void>;
}

function started(name: string, args: string[], env: NodeJS.ProcessEnv): Promise<PipelineProcess> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new GpuflowError(`${name} did not start within 120 s`))), 120_000);
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      child.stdout!.resume(); // keep draining, so a chatty child never blocks on a full pipe
      resolve({ name, child, pid: child.pid! });
    });
    child.once('exit', (code, signal) => (clearTimeout(timer), reject(new GpuflowError(`${name} exited (${signal ?? code}) before it started`))));
  });
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => (clearTimeout(kill), resolve()));
    child.kill('SIGTERM');
  });
}

export async function startPipeline(layout: PipelineLayout): Promise<StartedPipeline> {
  const { runId, env } = layout;
  const dispatcherGroup = `gpuflow-soak-${runId}`;
  const projectorGroup = `gpuflow-soak-${runId}-projector`;
  const projectorPrefix = `gpuflow-soak-${runId}`;
  const workerIds = Array.from({ length: layout.workers }, (_, i) => `soak-${runId}-w${i + 1}`);
  const launches = [
    started('dispatcher', ['dispatcher', '--group', dispatcherGroup, '--start-at-end', '--stats-ms', '0'], env),
    ...workerIds.map((id, i) => started(`worker ${i + 1}`, ['worker', '--simulate', '--id', id, '--slots', '2'], env)),
    started('projector', ['projector', '--group', projectorGroup, '--prefix', projectorPrefix, '--metrics-port', '0'], env),
  ];
  const outcomes = await Promise.allSettled(launches);
  const processes = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  // Should this process die without stopping them, its children go with it rather than run on.
  const orphanGuard = (): void => processes.forEach((p) => p.child.kill('SIGKILL'));
  process.once('exit', orphanGuard);
  const stop = async (): Promise<void> => {
    process.off('exit', orphanGuard);
    await Promise.all(processes.map((p) => stopChild(p.child, 30_000)));
  };
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure) {
    await stop();
    throw failure.reason;
  }
  return { processes, dispatcherGroup, projectorGroup, projectorPrefix, workerIds, stop };
}
