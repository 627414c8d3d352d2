/** `gpuflow detector`: GPU anomaly detection (LOF and time-to-OOM) from gpu.telemetry to gpu.anomalies. */
import { createKafka } from '../../kafka/client.js';
import { createRegistryClient } from '../../kafka/registry.js';
import { startDetector } from '../../services/detector.js';
import type { Command } from '../command.js';
import { untilSignal } from '../signals.js';

export const detectorCommand: Command = {
  name: 'detector',
  summary: 'watch GPU telemetry and raise out-of-memory alerts before they happen',
  usage: 'gpuflow detector [--group G]',
  flags: { group: { type: 'string', description: 'consumer group', default: 'gpuflow-detector' } },
  async run({ flags }, { config, logger, print }) {
    const handle = await startDetector(createKafka(config, logger), createRegistryClient(config.schemaRegistryUrl), logger, { groupId: String(flags.group) });
    print(`detector running (group ${String(flags.group)}); SIGTERM stops it`);
    await untilSignal();
    await handle.stop();
    return 0;
  },
};
