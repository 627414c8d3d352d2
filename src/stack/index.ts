/**
 * The local stack: Redis, Prometheus, Kafka (KRaft) and Apicurio Registry, started from the
 * project's own files on loopback. `stackUp` is idempotent (what already answers is left as it is),
 * `stackDown` stops only what it started, and a service given by URL (KAFKA_BROKERS,
 * SCHEMA_REGISTRY_URL, REDIS_URL) is never started or stopped here.
 */
import type { Config } from '../config.js';
import { GpuflowError, StackError } from '../domain/errors.js';
import type { Logger } from '../log.js';
import { COMPONENT_NAMES, type Component, type ComponentName, type ComponentStatus, type StackOptions } from './component.js';
import { kafkaComponent } from './kafka.js';
import { portInUse } from './probe.js';
import { acquireStartLock, isAlive, logFile, ownedPid, stopOwned, waitReady } from './process.js';
import { prometheusComponent } from './prometheus.js';
import { redisComponent } from './redis.js';
import { registryComponent } from './registry.js';

export { COMPONENT_NAMES, type ComponentName, type ComponentStatus, type StackOptions } from './component.js';

/** What one `stackUp` did, per component. */
export interface StackUpResult {
  started: ComponentName[];
  alreadyRunning: ComponentName[];
  external: ComponentName[];
}

function components(config: Config, options: StackOptions): Component[] {
  const all: Record<ComponentName, Component> = {
    redis: redisComponent(config),
    prometheus: prometheusComponent(config, options),
    kafka: kafkaComponent(config),
    registry: registryComponent(config),
  };
  const only = options.only ?? COMPONENT_NAMES;
  return COMPONENT_NAMES.filter((name) => only.includes(name)).map((name) => all[name]);
}

type UpOutcome = 'started' | 'alreadyRunning' | 'external';

const processNamesOf = (component: Component): string[] => component.processNames ?? [component.name];

/** The pid of the component's first live process that this stack started. */
function firstOwnedPid(component: Component, config: Config): number | undefined {
  for (const processName of processNamesOf(component)) {
    const pid = ownedPid(config.home, processName, component.owns);
    if (pid !== undefined) return pid;
  }
  return undefined;
}

/** Stops every process of the component that this stack started, at once; returns their pids. */
async function stopAll(component: Component, config: Config, logger: Logger): Promise<number[]> {
  const pids = await Promise.all(processNamesOf(component).map((processName) => stopOwned(config.home, processName, component.owns, component.stopGraceMs, logger)));
  return pids.filter((pid): pid is number => pid !== undefined);
}

async function up(component: Component, config: Config, logger: Logger): Promise<UpOutcome> {
  const { name, address } = component;
  if (component.external) {
    logger.info('stack.external', { component: name, address });
    return 'external';
  }
  const owns = component.owns;
  if (await component.healthy()) {
    await component.refresh?.(logger);
    logger.info('stack.already_running', { component: name, address, pid: firstOwnedPid(component, config) });
    return 'alreadyRunning';
  }
  const release = await acquireStartLock(config.home, name, 300_000);
  try {
    // Another `up` may have started it while this one waited for the lock.
    if (await component.healthy()) return 'alreadyRunning';
    const state = component.startState ? await component.startState() : { portsToFree: component.ports, pendingPid: ownedPid(config.home, name, owns) };
    const pending = state.pendingPid;
    if (pending !== undefined) {
      // Alive, ours, but not answering yet (its starter gave up waiting): wait for it instead of starting another.
      logger.info('stack.waiting', { component: name, pid: pending });
      const log = logFile(config.home, name);
      await waitReady(() => component.healthy(), { name, pid: pending, log, logOffset: 0, timeoutMs: 180_000, hint: `see ${log}` });
      return 'alreadyRunning';
    }
    for (const port of state.portsToFree) {
      if (await portInUse('127.0.0.1', port)) {
        throw new StackError(name, `port ${port} is taken by another program that does not answer as ${name}`, 'stop that program or choose other ports (see src/config.ts)');
      }
    }
    const began = Date.now();
    logger.info('stack.starting', { component: name, address });
    try {
      await component.start(logger);
    } catch (error) {
      // Never leave a half-started process behind.
      await stopAll(component, config, logger).catch(() => undefined);
      if (error instanceof GpuflowError) throw error;
      throw new StackError(name, `could not start: ${(error as Error).message}`, undefined, { cause: error });
    }
    logger.info('stack.started', { component: name, address, pid: firstOwnedPid(component, config), ms: Date.now() - began });
    return 'started';
  } finally {
    release();
  }
}

/**
 * Starts every component that does not answer yet, all at once (they do not depend on one
 * another), and waits until each answers its health check. Throws the first StackError after
 * the others have settled; what did start stays up.
 */
export async function stackUp(config: Config, logger: Logger, options: StackOptions = {}): Promise<StackUpResult> {
  const list = components(config, options);
  const outcomes = await Promise.allSettled(list.map((c) => up(c, config, logger)));
  const result: StackUpResult = { started: [], alreadyRunning: [], external: [] };
  const failures: unknown[] = [];
  outcomes.forEach((outcome, i) => {
    const name = list[i]!.name;
    if (outcome.status === 'fulfilled') result[outcome.value].push(name);
    else failures.push(outcome.reason);
  });
  for (const failure of failures.slice(1)) logger.error('stack.start_failed', { error: failure });
  if (failures.length > 0) throw failures[0];
  return result;
}

/** Stops the components this stack started (SIGTERM, then SIGKILL after each one's grace period). */
export async function stackDown(config: Config, logger: Logger, options: Pick<StackOptions, 'only'> = {}): Promise<void> {
  const list = components(config, options).filter((c) => !c.external);
  await Promise.all(
    list.map(async (component) => {
      const pids = await stopAll(component, config, logger);
      if (pids.length > 0) logger.info('stack.stopped', { component: component.name, pid: pids[0], pids });
      else if (await component.healthy()) logger.warn('stack.not_ours', { component: component.name, address: component.address, detail: 'running, but not started by gpuflow: left alone' });
    }),
  );
}

/** Each component's state, probed now. */
export async function stackStatus(config: Config): Promise<ComponentStatus[]> {
  return Promise.all(
    components(config, {}).map(async (component): Promise<ComponentStatus> => {
      const { name, address } = component;
      if (component.external) return { name, state: 'external', address, detail: 'given by the environment; not managed here' };
      const pid = firstOwnedPid(component, config);
      const log = processNamesOf(component).map((processName) => logFile(config.home, processName)).join(', ');
      if (await component.healthy()) {
        const detail = pid === undefined ? 'not started by gpuflow (stack down leaves it alone)' : `log ${log}`;
        return pid === undefined ? { name, state: 'running', address, detail } : { name, state: 'running', pid, address, detail };
      }
      if (pid !== undefined && isAlive(pid)) return { name, state: 'stopped', pid, address, detail: `process alive but not answering yet (starting?); log ${log}` };
      return { name, state: 'stopped', address, detail: 'not running' };
    }),
  );
}
