/**
 * A knob for simulated devices only: make one model version slower by a factor, to see what a
 * slow canary does to the rollout (the guard should roll it back). Set as
 * GPUFLOW_SIMULATED_SLOWDOWN="model@version=factor[,model@version=factor…]", e.g.
 * "mlp-small@2=400". A real executor is never slowed: the wrapper leaves it as it is.
 */
import { ConfigError } from '../../domain/errors.js';
import type { ModelManifest, Tensor } from '../../domain/events/index.js';
import type { ExecutionResult, Executor } from '../executors/executor.js';

/** "model@version" → factor (≥ 1). */
export type VersionSlowdowns = ReadonlyMap<string, number>;

export function parseVersionSlowdowns(spec: string): VersionSlowdowns {
  const out = new Map<string, number>();
  for (const part of spec.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = part.lastIndexOf('=');
    const key = part.slice(0, eq);
    const factor = Number(part.slice(eq + 1));
    if (eq < 1 || !key.includes('@') || !Number.isFinite(factor) || factor < 1) {
      throw new ConfigError(`GPUFLOW_SIMULATED_SLOWDOWN: '${part}' is not model@version=factor with a factor of at least 1`);
    }
    out.set(key, factor);
  }
  return out;
}

/** Simulated executors of the listed versions take `factor` times their modelled service time. */
export function withVersionSlowdowns(executorFor: (m: ModelManifest) => Promise<Executor>, slowdowns: VersionSlowdowns): (m: ModelManifest) => Promise<Executor> {
  if (slowdowns.size === 0) return executorFor;
  return async (m) => {
    const inner = await executorFor(m);
    const factor = slowdowns.get(`${m.model}@${m.version}`);
    return factor === undefined || !inner.simulated ? inner : new SlowedExecutor(inner, factor);
  };
}

class SlowedExecutor implements Executor {
  readonly simulated = true;
  constructor(
    private readonly inner: Executor,
    private readonly factor: number,
  ) {}

  get manifest(): ModelManifest {
    return this.inner.manifest;
  }

  load(): Promise<void> {
    return this.inner.load();
  }

  async execute(input: Tensor): Promise<ExecutionResult> {
    const result = await this.inner.execute(input);
    const modelledUs = result.timings.transferUs + result.timings.computeUs;
    // The inner executor already waited out the modelled time once; wait out the rest.
    await new Promise<void>((resolve) => setTimeout(resolve, (modelledUs * (this.factor - 1)) / 1000));
    return { ...result, timings: { transferUs: result.timings.transferUs, computeUs: result.timings.computeUs + modelledUs * (this.factor - 1) } };
  }

  unload(): Promise<void> {
    return this.inner.unload();
  }

  memoryEstimateBytes(batchSize: number): number {
    return this.inner.memoryEstimateBytes(batchSize);
  }
}
