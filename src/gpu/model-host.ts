/**
 * The models a worker has loaded, with hot swap: a new version is loaded beside the old one,
 * becomes current in one synchronous assignment (so no batch sees a half-switched state), the
 * old one drains the batches already running on it, and only then is unloaded. A failed load
 * leaves the old version serving. Swaps of one model are serialised; different models swap
 * independently.
 */
import type { ModelManifest, Tensor } from '../domain/events/index.js';
import { ModelNotLoadedError } from './errors.js';
import type { ExecutionResult, Executor } from './executors/executor.js';

interface Entry {
  manifest: ModelManifest;
  executor: Executor;
  inFlight: number;
  retired: boolean;
  onDrained: (() => void) | undefined;
}

export interface HostedResult extends ExecutionResult {
  modelVersion: string;
}

export interface SwapReport {
  model: string;
  from: string | null;
  to: string;
  /** Batches that were still running on the old version when it became non-current. */
  drainedBatches: number;
}

export class ModelHost {
  private readonly current = new Map<string, Entry>();
  /** Old versions still finishing their batches, by model. */
  private readonly draining = new Map<string, Set<Entry>>();
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(private readonly createExecutor: (manifest: ModelManifest) => Promise<Executor>) {}

  /** Loads the manifest's version and makes it current, draining and unloading whatever it replaces. */
  swap(manifest: ModelManifest): Promise<SwapReport> {
    const previous = this.queues.get(manifest.model) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.doSwap(manifest));
    this.queues.set(manifest.model, next);
    return next;
  }

  /**
   * Runs a batch on the current version, or on `version` when given and still loaded (a batch
   * formed just before a swap finishes on the version it was formed for).
   */
  async execute(model: string, input: Tensor, version = ''): Promise<HostedResult> {
    const entry = this.route(model, version);
    entry.inFlight++;
    try {
      const result = await entry.executor.execute(input);
      return { ...result, modelVersion: entry.manifest.version };
    } finally {
      entry.inFlight--;
      if (entry.retired && entry.inFlight === 0) entry.onDrained?.();
    }
  }

  /** "model:version" of every current model, as heartbeats report them. */
  loadedModels(): string[] {
    return [...this.current.values()].map((e) => `${e.manifest.model}:${e.manifest.version}`).sort();
  }

  /** Names of the models with a current version: what the scheduler places by. */
  loadedModelNames(): string[] {
    return [...this.current.keys()].sort();
  }

  manifest(model: string): ModelManifest | undefined {
    return this.current.get(model)?.manifest;
  }

  inFlight(): number {
    let total = 0;
    for (const e of this.current.values()) total += e.inFlight;
    for (const set of this.draining.values()) for (const e of set) total += e.inFlight;
    return total;
  }

  memoryEstimateBytes(model: string, batchSize: number): number {
    return this.route(model, '').executor.memoryEstimateBytes(batchSize);
  }

  /** Stops routing to the model, waits for its batches, unloads it. */
  async unload(model: string): Promise<void> {
    const previous = this.queues.get(model) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(async () => {
      const entry = this.current.get(model);
      if (!entry) return;
      this.current.delete(model);
      await this.retire(model, entry);
    });
    this.queues.set(model, next);
    await next;
  }

  async unloadAll(): Promise<void> {
    await Promise.all([...this.current.keys()].map((m) => this.unload(m)));
  }

  private async doSwap(manifest: ModelManifest): Promise<SwapReport> {
    const old = this.current.get(manifest.model);
    const executor = await this.createExecutor(manifest);
    await executor.load();
    const entry: Entry = { manifest, executor, inFlight: 0, retired: false, onDrained: undefined };
    // The switch: one synchronous assignment; from here new batches reach the new version.
    this.current.set(manifest.model, entry);
    const drainedBatches = old ? old.inFlight : 0;
    if (old) await this.retire(manifest.model, old);
    return { model: manifest.model, from: old ? old.manifest.version : null, to: manifest.version, drainedBatches };
  }

  private async retire(model: string, entry: Entry): Promise<void> {
    entry.retired = true;
    const set = this.draining.get(model) ?? new Set<Entry>();
    set.add(entry);
    this.draining.set(model, set);
    // Checked again after every wake-up: a batch pinned to this version may have started meanwhile.
    while (entry.inFlight > 0) await new Promise<void>((resolve) => (entry.onDrained = resolve));
    set.delete(entry);
    if (set.size === 0) this.draining.delete(model);
    await entry.executor.unload();
  }

  private route(model: string, version: string): Entry {
    const entry = this.current.get(model);
    if (entry && (version === '' || entry.manifest.version === version)) return entry;
    for (const old of this.draining.get(model) ?? []) if (old.manifest.version === version) return old;
    const loaded = entry ? `loaded: ${entry.manifest.version}` : 'not loaded';
    throw new ModelNotLoadedError(`model ${model}${version ? ` version ${version}` : ''} is not on this worker (${loaded})`, { retriable: true });
  }
}
