/**
 * The checks that need a real NVIDIA GPU, as one plain script (node:assert, no test runner), so
 * that it runs on a GPU machine with nothing but node and the packed .gpu/ folder:
 *   node .gpu/dist/test/gpu/checks.js [--out checks.json]
 * Prints one JSON report and a last line 'N passed, M failed'. Exit status: 0 all passed,
 * 1 a check failed, 3 no GPU here (the reason is in the report).
 * test/gpu/gpu.spec.ts runs the same checks under vitest.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { describeError, NoGpuError } from '../../src/domain/errors.js';
import type { ModelManifest } from '../../src/domain/events/index.js';
import { CudaMlp, type EpiloguePath } from '../../src/gpu/cuda-mlp.js';
import { CudaRuntime } from '../../src/gpu/cudart.js';
import { TensorMismatchError } from '../../src/gpu/errors.js';
import { CpuExecutor } from '../../src/gpu/executors/cpu.js';
import { CudaExecutor } from '../../src/gpu/executors/cuda.js';
import { float32Tensor, float32View } from '../../src/gpu/executors/executor.js';
import { decodeMlp, mlpForwardCpu, randomInput, randomMlp, type MlpWeights } from '../../src/gpu/mlp.js';
import { ModelHost } from '../../src/gpu/model-host.js';
import { NvmlDevices } from '../../src/gpu/nvml-devices.js';
import { readRound } from '../../src/gpu/telemetry-sampler.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  ms: number;
  detail: Record<string, unknown>;
  error?: string;
}

export interface GpuCheckReport {
  gpu: boolean;
  /** Why there is no GPU, when there is none. */
  reason?: string;
  device?: Record<string, unknown>;
  checks: CheckResult[];
  passed: number;
  failed: number;
}

const FIXTURE = 'test/fixtures/models/mlp-64-128-10.safetensors';
const UUID = /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MIB = 2 ** 20;

/** Largest |a - b| relative to the reference's scale; fp32 GEMMs differ from a float64-accumulated reference by ~1e-6. */
function maxRelativeError(reference: Float32Array, actual: Float32Array): number {
  assert.equal(actual.length, reference.length, 'output length');
  let scale = 1e-6;
  for (const v of reference) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs((reference[i] as number) - (actual[i] as number));
    if (!Number.isFinite(actual[i] as number)) return Infinity;
    worst = Math.max(worst, d / scale);
  }
  return worst;
}

function manifestFor(executor: 'cpu' | 'cuda', version: string, features: number, weightsUri: string): ModelManifest {
  return {
    model: 'mlp-check',
    version,
    executor,
    weightsUri,
    inputShape: [features],
    dtype: 'FP32',
    memoryPerSampleBytes: 4096,
    maxBatchSize: 1024,
    preferredBatchSizes: [64],
    maxQueueDelayMs: 5,
    commit: '',
  };
}

export async function runGpuChecks(options: { fixture?: string; tolerance?: number } = {}): Promise<GpuCheckReport> {
  const tolerance = options.tolerance ?? 1e-4;
  let nvml: NvmlDevices;
  let cuda: CudaRuntime;
  try {
    nvml = NvmlDevices.open();
    cuda = CudaRuntime.open(0);
  } catch (error) {
    if (error instanceof NoGpuError) return { gpu: false, reason: describeError(error), checks: [], passed: 0, failed: 0 };
    throw error;
  }
  const checks: CheckResult[] = [];
  const check = async (name: string, body: (detail: Record<string, unknown>) => void | Promise<void>): Promise<void> => {
    const detail: Record<string, unknown> = {};
    const start = performance.now();
    try {
      await body(detail);
      checks.push({ name, ok: true, ms: Math.round(performance.now() - start), detail });
    } catch (error) {
      checks.push({ name, ok: false, ms: Math.round(performance.now() - start), detail, error: describeError(error) });
    }
    process.stderr.write(`gpu check ${checks[checks.length - 1]?.ok ? 'ok  ' : 'FAIL'} ${name}\n`);
  };

  const devices = nvml.devices();
  const first = devices[0];
  const device = {
    name: first?.name,
    uuid: first?.uuid,
    driver: nvml.driverVersion(),
    cudaRuntime: cuda.runtimeVersion(),
    cudaDriver: cuda.driverVersion(),
    computeCapability: first?.computeCapability,
    count: devices.length,
    cudartPath: cuda.libraryPath,
  };

  await check('nvml: device identity', (d) => {
    d.devices = devices.map((x) => ({ index: x.index, name: x.name, uuid: x.uuid, pciBusId: x.pciBusId, cc: x.computeCapability, mig: x.migEnabled }));
    assert.ok(devices.length >= 1, 'at least one device');
    for (const x of devices) {
      assert.match(x.uuid, UUID, `UUID of device ${x.index}`);
      assert.ok(x.name.length > 0, 'name');
      assert.match(x.computeCapability, /^\d+\.\d+$/, 'compute capability');
      assert.match(x.pciBusId, /^[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-9a-fA-F]$/, 'PCI bus id');
      assert.ok(x.memTotalBytes > 1024 * MIB, 'memory total above 1 GiB');
    }
  });

  await check('nvml: nvlink and topology', (d) => {
    d.nvlinks = devices.map((x) => x.nvlinks.join(','));
    d.topology = nvml.topology();
    for (const x of devices) {
      assert.equal(x.nvlinks.length, 18, 'one state per NVLink slot');
      for (const s of x.nvlinks) assert.ok(['ACTIVE', 'INACTIVE', 'NOT_SUPPORTED'].includes(s));
    }
    assert.equal(nvml.topology().length, (devices.length * (devices.length - 1)) / 2, 'one link per pair');
  });

  await check('nvml: telemetry in range', (d) => {
    const s = nvml.read(0, Date.now());
    d.sample = s;
    assert.equal(s.simulated, false);
    assert.equal(s.deviceUuid, first?.uuid);
    assert.ok(s.temperatureC >= 5 && s.temperatureC <= 100, `temperature ${s.temperatureC} °C`);
    assert.ok(s.powerW >= 5 && s.powerW <= 1500, `power ${s.powerW} W`);
    assert.ok(s.gpuUtil >= 0 && s.gpuUtil <= 100 && s.memUtil >= 0 && s.memUtil <= 100, 'utilisation in percent');
    assert.ok(s.memUsedBytes <= s.memTotalBytes, 'used ≤ total');
    assert.ok(Math.abs(s.memUsedBytes + s.memFreeBytes - s.memTotalBytes) <= MIB, 'used + free = total');
    assert.ok(s.smClockMhz > 0 && s.memClockMhz > 0, 'clocks');
  });

  await check('nvml total = cudaMemGetInfo total', (d) => {
    const nv = nvml.read(0, Date.now());
    const rt = cuda.memGetInfo();
    const v2 = nvml.memoryDetail(0);
    d.nvmlTotal = nv.memTotalBytes;
    d.cudaTotal = rt.totalBytes;
    d.nvmlReserved = v2?.reservedBytes ?? null;
    d.differenceMiB = (nv.memTotalBytes - rt.totalBytes) / MIB;
    // Recent drivers keep a reserved region that NVML counts in its total and CUDA does not.
    const visible = nv.memTotalBytes - (v2?.reservedBytes ?? 0);
    d.nvmlTotalMinusReserved = visible;
    const equal = Math.abs(nv.memTotalBytes - rt.totalBytes) <= MIB || Math.abs(visible - rt.totalBytes) <= MIB;
    assert.ok(equal, `NVML total ${nv.memTotalBytes} (reserved ${d.nvmlReserved}) vs CUDA total ${rt.totalBytes}: ${Number(d.differenceMiB).toFixed(1)} MiB apart`);
  });

  const fixture = decodeMlp(new Uint8Array(readFileSync(options.fixture ?? FIXTURE)));
  const large = randomMlp([1024, 4096, 4096, 1024], 7);
  const compare = (mlp: MlpWeights, path: EpiloguePath, batches: number[], name: string): Promise<void> =>
    check(`mlp ${name} on GPU (${path}) = cpu reference`, (d) => {
      const gpu = new CudaMlp(cuda, mlp, { maxBatch: Math.max(...batches), epilogue: path });
      try {
        const errors: Record<string, number> = {};
        for (const batch of batches) {
          const x = randomInput(batch, mlp.layers[0]!.inFeatures, 1000 + batch);
          const { output } = gpu.forward(x, batch);
          errors[batch] = maxRelativeError(mlpForwardCpu(mlp, x, batch), output);
        }
        d.maxRelativeError = errors;
        d.tolerance = tolerance;
        for (const [batch, e] of Object.entries(errors)) assert.ok(e <= tolerance, `batch ${batch}: error ${e} > ${tolerance}`);
      } finally {
        gpu.release();
      }
    });
  for (const path of ['cublaslt', 'nvrtc'] as const) {
    await compare(fixture, path, [1, 7, 64, 256, 1024], '64→128→10');
    await compare(large, path, [1, 8], '1024→4096→4096→1024');
  }

  await check('cuda executor = cpu executor, typed error on a wrong shape', async (d) => {
    const read = async (): Promise<Uint8Array> => new Uint8Array(readFileSync(options.fixture ?? FIXTURE));
    const gpu = new CudaExecutor(manifestFor('cuda', '1', 64, FIXTURE), read, { device: 0 });
    const cpu = new CpuExecutor(manifestFor('cpu', '1', 64, FIXTURE), read);
    await gpu.load();
    await cpu.load();
    try {
      d.epilogue = gpu.epilogue;
      const input = float32Tensor(randomInput(32, 64, 5), [32, 64]);
      const a = await gpu.execute(input);
      const b = await cpu.execute(input);
      d.timings = a.timings;
      d.maxRelativeError = maxRelativeError(float32View(b.output), float32View(a.output));
      assert.deepEqual(a.output.shape, [32, 10]);
      assert.ok((d.maxRelativeError as number) <= tolerance);
      assert.ok(a.timings.computeUs > 0 && a.timings.transferUs > 0, 'both timings measured');
      await assert.rejects(gpu.execute(float32Tensor(new Float32Array(32 * 63), [32, 63])), TensorMismatchError);
      d.memoryEstimateBytesAt256 = gpu.memoryEstimateBytes(256);
    } finally {
      await gpu.unload();
    }
  });

  await check('hot swap on the GPU under load: no failed batch', async (d) => {
    const read = async (): Promise<Uint8Array> => new Uint8Array(readFileSync(options.fixture ?? FIXTURE));
    const host = new ModelHost(async (m) => new CudaExecutor(m, read, { device: 0 }));
    await host.swap(manifestFor('cuda', '1', 64, FIXTURE));
    const input = float32Tensor(randomInput(16, 64, 9), [16, 64]);
    const runs: Promise<{ modelVersion: string }>[] = [];
    for (let i = 0; i < 200; i++) {
      runs.push(host.execute('mlp-check', input));
      if (i === 100) runs.push(host.swap(manifestFor('cuda', '2', 64, FIXTURE)).then(() => ({ modelVersion: 'swap' })));
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    const settled = await Promise.allSettled(runs);
    const failed = settled.filter((s) => s.status === 'rejected');
    d.failed = failed.length;
    d.versions = settled.reduce<Record<string, number>>((acc, s) => {
      if (s.status === 'fulfilled') acc[s.value.modelVersion] = (acc[s.value.modelVersion] ?? 0) + 1;
      return acc;
    }, {});
    assert.equal(failed.length, 0, failed.map((f) => (f as PromiseRejectedResult).reason).join('; '));
    assert.deepEqual(host.loadedModels(), ['mlp-check:2']);
    await host.unloadAll();
  });

  await check('telemetry sampler cost per device per round', (d) => {
    const costs: number[] = [];
    for (let i = 0; i < 300; i++) {
      const round = readRound(nvml, Date.now());
      assert.equal(round.failures.length, 0, round.failures.map((f) => f.reason).join('; '));
      costs.push(round.costUsPerDevice);
    }
    costs.sort((a, b) => a - b);
    const q = (p: number): number => Number((costs[Math.min(costs.length - 1, Math.floor(p * costs.length))] as number).toFixed(2));
    d.rounds = costs.length;
    d.devices = nvml.deviceCount();
    d.costUsPerDevice = { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) };
    d.readingsPerRound = 'memory, utilisation, temperature, power, SM clock, memory clock, ECC';
    assert.ok(q(0.5) < 2000, `median ${q(0.5)} µs per device per round`);
  });

  nvml.close();
  const passed = checks.filter((c) => c.ok).length;
  return { gpu: true, device, checks, passed, failed: checks.length - passed };
}

async function main(argv: string[]): Promise<number> {
  const outIndex = argv.indexOf('--out');
  const out = outIndex >= 0 ? argv[outIndex + 1] : undefined;
  const report = await runGpuChecks();
  const json = JSON.stringify(report, null, 2);
  if (out) writeFileSync(out, json + '\n');
  process.stdout.write(json + '\n');
  if (!report.gpu) {
    process.stdout.write(`0 passed, 0 failed (no GPU: ${report.reason})\n`);
    return 3;
  }
  process.stdout.write(`${report.passed} passed, ${report.failed} failed\n`);
  return report.failed === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stdout.write(`gpu checks crashed: ${describeError(error)}\n0 passed, 1 failed\n`);
      process.exit(1);
    },
  );
}
