/**
 * Which devices a process runs on: real GPUs where NVML finds them, simulated ones otherwise (or
 * when asked), and which executor each manifest gets on them. Simulated devices say so everywhere.
 */
import { hostname } from 'node:os';
import { describeError, NoGpuError } from '../domain/errors.js';
import type { ModelManifest } from '../domain/events/manifest.js';
import type { DeviceInventory, TelemetrySource } from '../gpu/devices.js';
import { createExecutor, type Executor } from '../gpu/executors/executor.js';
import { SimulatedExecutor } from '../gpu/executors/simulated.js';
import { modelStoreReader } from '../gpu/model-store.js';
import { NvmlDevices } from '../gpu/nvml-devices.js';
import { createLatencyModel, DEVICE_PROFILES, MODEL_COSTS, type DeviceProfileName } from '../gpu/simulated/latency-model.js';
import { H100_SXM, H200, SimulatedDevices } from '../gpu/simulated/simulated-devices.js';
import type { Logger } from '../log.js';

export interface DeviceChoice {
  inventory: DeviceInventory & TelemetrySource;
  /** Why these devices: 'nvml' or the reason simulated ones stand in. */
  reason: string;
}

export function openDevices(options: { simulate: boolean; count: number; type: DeviceProfileName; node?: string }, logger: Logger): DeviceChoice {
  const node = options.node ?? hostname();
  if (!options.simulate) {
    try {
      return { inventory: NvmlDevices.open({ node: hostname() }), reason: 'nvml' };
    } catch (error) {
      if (!(error instanceof NoGpuError)) throw error;
      logger.info('devices.simulated', { reason: describeError(error), count: options.count, type: options.type });
      return { inventory: simulatedDevices(node, options), reason: `simulated: ${describeError(error)}` };
    }
  }
  return { inventory: simulatedDevices(node, options), reason: 'simulated: asked for' };
}

function simulatedDevices(node: string, options: { count: number; type: DeviceProfileName }): SimulatedDevices {
  const spec = options.type === 'H200' ? H200 : { ...H100_SXM, name: DEVICE_PROFILES[options.type].name, memTotalBytes: DEVICE_PROFILES[options.type].memoryBytes };
  return new SimulatedDevices(Array.from({ length: options.count }, () => spec), { node });
}

/**
 * The executor for a manifest on these devices. On simulated devices a cuda model runs on the
 * simulated executor, which waits out the modelled service time so that load behaves as on a GPU.
 */
export function executorFactory(
  choice: DeviceChoice,
  options: { modelStore: string; type: DeviceProfileName; seed: number; /** Return at once instead of waiting out the modelled time (overhead benchmarks). */ instant?: boolean },
): (m: ModelManifest) => Promise<Executor> {
  const readWeights = modelStoreReader(options.modelStore);
  const simulated = (m: ModelManifest): Executor =>
    new SimulatedExecutor(m, {
      latency: createLatencyModel({ device: DEVICE_PROFILES[options.type], cost: MODEL_COSTS[m.model as keyof typeof MODEL_COSTS] ?? MODEL_COSTS['mlp-small'], seed: options.seed }),
      now: () => Date.now(),
      ...(options.instant ? {} : { wait: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) }),
    });
  return async (m) => (choice.inventory.simulated && (m.executor === 'cuda' || m.executor === 'simulated') ? simulated(m) : createExecutor(m, { readWeights, simulated }));
}
