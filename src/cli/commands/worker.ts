/** `gpuflow worker`: one worker process on this machine's GPUs (or simulated ones). */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError } from '../../domain/errors.js';
import { DEVICE_PROFILES, type DeviceProfileName } from '../../gpu/simulated/latency-model.js';
import { createKafka } from '../../kafka/client.js';
import { createRegistryClient } from '../../kafka/registry.js';
import { executorFactory, openDevices } from '../../services/devices.js';
import { startWorker } from '../../services/worker.js';
import type { Command } from '../command.js';
import { untilSignal } from '../signals.js';

export const workerCommand: Command = {
  name: 'worker',
  summary: 'run batches assigned to this worker on its GPUs (simulated ones where NVML finds none)',
  usage: 'gpuflow worker [--id W] [--slots N] [--simulate] [--gpus N] [--gpu-type H100|H200|A100|L4]',
  flags: {
    id: { type: 'string', description: 'worker id (default: random)' },
    slots: { type: 'number', description: 'batches run at once', default: 2, integer: true, min: 1 },
    simulate: { type: 'boolean', description: 'use simulated devices even where a GPU exists' },
    gpus: { type: 'number', description: 'simulated devices', default: 1, integer: true, min: 1 },
    'gpu-type': { type: 'string', description: 'simulated device type', default: 'H100' },
    'heartbeat-ms': { type: 'number', description: 'heartbeat period', default: 1000, positive: true },
    'telemetry-ms': { type: 'number', description: 'telemetry period of this worker\'s devices (0: none)', default: 500, min: 0 },
  },
  async run({ flags }, { config, logger, print }) {
    const type = String(flags['gpu-type']);
    if (!Object.hasOwn(DEVICE_PROFILES, type)) throw new ConfigError(`--gpu-type must be one of ${Object.keys(DEVICE_PROFILES).join(', ')}`);
    const slots = Number(flags.slots);
    const workerId = typeof flags.id === 'string' ? flags.id : `worker-${randomUUID().slice(0, 6)}`;
    // Simulated devices are named after their worker, so two workers on one host do not share UUIDs.
    const choice = openDevices({ simulate: Boolean(flags.simulate), count: Number(flags.gpus), type: type as DeviceProfileName, node: `${hostname()}-${workerId}` }, logger);
    const worker = await startWorker(createKafka(config, logger), createRegistryClient(config.schemaRegistryUrl), config, logger, {
      workerId, slots, heartbeatMs: Number(flags['heartbeat-ms']), inventory: choice.inventory, telemetryMs: Number(flags['telemetry-ms']),
      executorFor: executorFactory(choice, { modelStore: config.modelStore, type: type as DeviceProfileName, seed: 1 }),
    });
    print(`worker ${workerId} epoch ${worker.epoch} on ${choice.inventory.devices().map((d) => d.name).join(', ')} (${choice.reason})`);
    await untilSignal();
    await worker.stop();
    choice.inventory.close();
    return 0;
  },
};
