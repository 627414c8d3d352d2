/**
 * Records NVML telemetry of every GPU as GpuSample JSON lines, for a fixed time at a fixed rate:
 *   node record-trace.js --out FILE.jsonl [--seconds 60] [--hz 2]
 * The lines are what the sampler produces to gpu.telemetry; recorded traces become fixtures
 * for the OOM detector (test/fixtures/gpu-traces/).
 */
import { createWriteStream } from 'node:fs';
import { describeError } from '../../src/domain/errors.js';
import { NvmlDevices } from '../../src/gpu/nvml-devices.js';
import { startSampler } from '../../src/gpu/telemetry-sampler.js';

function option(argv: string[], name: string, fallback?: string): string {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? argv[i + 1] : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  const out = option(argv, 'out');
  const seconds = Number(option(argv, 'seconds', '60'));
  const hz = Number(option(argv, 'hz', '2'));
  const nvml = NvmlDevices.open();
  const file = createWriteStream(out);
  let rounds = 0;
  let worstCostUs = 0;
  const stop = startSampler(nvml, { intervalMs: 1000 / hz }, (round) => {
    rounds++;
    worstCostUs = Math.max(worstCostUs, round.costUsPerDevice);
    for (const sample of round.samples) file.write(JSON.stringify(sample) + '\n');
    for (const failure of round.failures) process.stderr.write(`device ${failure.deviceIndex}: ${failure.reason}\n`);
  });
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  stop();
  nvml.close();
  await new Promise<void>((resolve) => file.end(resolve));
  process.stderr.write(`record-trace: ${rounds} rounds at ${hz} Hz into ${out} (worst round ${worstCostUs.toFixed(1)} µs per device)\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`record-trace: ${describeError(error)}\n`);
  process.exit(1);
});
