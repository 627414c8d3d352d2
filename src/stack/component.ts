import type { Logger } from '../log.js';

/** The services of the local stack, in the order they start. */
export const COMPONENT_NAMES = ['redis', 'prometheus', 'kafka', 'registry'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];

/** What `stack status` reports for one service. */
export interface ComponentStatus {
  name: ComponentName;
  /** running: answers its health check; stopped: does not; external: given by URL, never started here. */
  state: 'running' | 'stopped' | 'external';
  /** Set when the process was started by this stack and is still alive. */
  pid?: number;
  address: string;
  detail: string;
}

/** Options that shape the generated configurations, beyond src/config.ts. */
export interface StackOptions {
  /** Start (or stop) only these components; the default is all of them. */
  only?: ComponentName[];
  /** Prometheus scrape interval for the gpuflow job, e.g. '1s' (default) or '15s'. */
  scrapeInterval?: string;
}

/**
 * One service of the stack. `healthy` is a quick probe that needs nothing prepared, so a second
 * `up` costs only probes; `start` does whatever preparation is needed (downloads, formatting,
 * generated configuration) and then spawns the process and waits for it to answer.
 */
export interface Component {
  readonly name: ComponentName;
  readonly address: string;
  readonly external: boolean;
  /** Loopback ports it listens on: taken by anything else, it cannot start. */
  readonly ports: number[];
  /**
   * Names of its processes (pid and log files under $GPUFLOW_HOME); default [name]. A local Kafka
   * cluster has one per node.
   */
  readonly processNames?: string[];
  /**
   * For a component of several processes: the ports that must be free before `start` (those of the
   * processes not running), and a process of ours still starting. Without it, `ports` and the pid in
   * run/NAME.pid are used.
   */
  startState?(): Promise<{ portsToFree: number[]; pendingPid: number | undefined }>;
  /** How long SIGTERM may take before SIGKILL. */
  readonly stopGraceMs: number;
  /** Answers its health check now (bounded by a short timeout). */
  healthy(): Promise<boolean>;
  /** Whether a live process is one this stack started: its command line (and working directory) match. */
  owns(proc: { cmdline: string[]; cwd: string | undefined }): boolean;
  /** Prepares, spawns and waits until healthy; throws StackError when it cannot. */
  start(logger: Logger): Promise<void>;
  /** Called when already healthy, so configuration changes apply without a restart (Prometheus reload). */
  refresh?(logger: Logger): Promise<void>;
}
