/**
 * gpu-mlp: the same fp32 MLP (1024→4096→4096→1024) and batch sizes 1..1024 through gpuflow's
 * cuda executor (koffi → cuBLASLt, no Python in the path) and through PyTorch on the same GPU,
 * in one run. Throughput is samples per second host→host: input copied to the GPU, forward,
 * output copied back, as a worker does it. TF32 is off on both sides (CUBLAS_COMPUTE_32F here;
 * allow_tf32 = False there). Headline: batch 256, target ≥ 0.8 of PyTorch.
 *   npm run bench -- gpu-mlp [--quick] [--torch-out=FILE]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ModelManifest } from '../src/domain/events/index.js';
import { CudaExecutor } from '../src/gpu/executors/cuda.js';
import { float32Tensor } from '../src/gpu/executors/executor.js';
import { encodeMlp, randomInput, randomMlp } from '../src/gpu/mlp.js';
import { NvmlDevices } from '../src/gpu/nvml-devices.js';
import { machineDescription, row, type BenchRow } from './result.js';

const SIZES = [1024, 4096, 4096, 1024];
const BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

interface TorchResult {
  torch: string;
  cuda: string;
  device: string;
  tf32: { matmul: boolean; cudnn: boolean };
  rows: { batch: number; iters: number; hostToHostUs: number; samplesPerSecond: number; computeUs: number }[];
}

function arg(args: string[], name: string): string | undefined {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit?.slice(name.length + 3);
}

export async function run(args: string[]): Promise<BenchRow[]> {
  const quick = args.includes('--quick');
  const minSeconds = quick ? 0.05 : 0.4;
  const batches = quick ? [1, 16, 256] : BATCHES;
  const nvml = NvmlDevices.open();
  const deviceName = nvml.devices()[0]?.name ?? 'unknown GPU';
  const driver = nvml.driverVersion();
  nvml.close();
  const dir = mkdtempSync(join(tmpdir(), 'gpuflow-gpu-mlp-'));
  const weights = join(dir, `mlp-${SIZES.join('-')}.safetensors`);
  writeFileSync(weights, encodeMlp(randomMlp(SIZES, 2024)));
  try {
    const manifest: ModelManifest = {
      model: 'gpu-mlp-bench',
      version: '1',
      executor: 'cuda',
      weightsUri: weights,
      inputShape: [SIZES[0] as number],
      dtype: 'FP32',
      memoryPerSampleBytes: 0,
      maxBatchSize: Math.max(...BATCHES),
      preferredBatchSizes: [],
      maxQueueDelayMs: 0,
      commit: '',
    };
    // GPUFLOW_EPILOGUE=nvrtc|cublaslt pins the epilogue path; 'auto' prefers cuBLASLt.
    const wanted = process.env.GPUFLOW_EPILOGUE;
    const epiloguePath = wanted === 'nvrtc' || wanted === 'cublaslt' ? wanted : 'auto';
    const executor = new CudaExecutor(manifest, async (uri) => new Uint8Array(readFileSync(uri)), { device: 0, epilogue: epiloguePath });
    await executor.load();
    const ours = new Map<number, { samplesPerSecond: number; hostToHostUs: number; computeUs: number; transferUs: number; iters: number }>();
    const epilogue = executor.epilogue;
    try {
      for (const batch of batches) {
        const input = float32Tensor(randomInput(batch, SIZES[0] as number, batch), [batch, SIZES[0] as number]);
        for (let i = 0; i < 5; i++) await executor.execute(input);
        let iters = 0;
        let compute = 0;
        let transfer = 0;
        const start = performance.now();
        let elapsed = 0;
        while (elapsed < minSeconds * 1000 || iters < 10) {
          const r = await executor.execute(input);
          compute += r.timings.computeUs;
          transfer += r.timings.transferUs;
          iters++;
          elapsed = performance.now() - start;
          if (iters >= 2000) break;
        }
        const m = { samplesPerSecond: (batch * iters) / (elapsed / 1000), hostToHostUs: (elapsed * 1000) / iters, computeUs: compute / iters, transferUs: transfer / iters, iters };
        ours.set(batch, m);
        process.stderr.write(`gpuflow batch ${batch}: ${m.samplesPerSecond.toFixed(0)} samples/s (compute ${m.computeUs.toFixed(1)} µs)\n`);
      }
    } finally {
      await executor.unload();
    }
    const torchOut = arg(args, 'torch-out') ?? join(dir, 'torch.json');
    const python = process.env.PYTHON ?? 'python3';
    const child = spawnSync(python, ['scripts/gpu/torch_mlp_bench.py', weights, torchOut, batches.join(','), String(minSeconds)], {
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: 240_000,
    });
    if (child.status !== 0) {
      process.stderr.write(`gpuflow side, for the record: ${JSON.stringify(Object.fromEntries(ours))}\n`);
      throw new Error(`PyTorch baseline failed (${python} exited ${child.status ?? child.signal}${child.error ? `: ${child.error.message}` : ''})`);
    }
    const torch = JSON.parse(readFileSync(torchOut, 'utf8')) as TorchResult;
    const machine = machineDescription(`${deviceName} (driver ${driver}, CUDA ${torch.cuda})`);
    return batches.map((batch) => {
      const o = ours.get(batch);
      const t = torch.rows.find((r) => r.batch === batch);
      if (!o || !t) throw new Error(`missing measurement for batch ${batch}`);
      return row({
        name: `gpu-mlp batch ${batch}`,
        unit: 'samples/s',
        ours: Number(o.samplesPerSecond.toFixed(1)),
        baseline: { name: `PyTorch ${torch.torch} nn.Sequential (fp32, TF32 off)`, value: Number(t.samplesPerSecond.toFixed(1)) },
        higherIsBetter: true,
        params: { batch, layers: SIZES.join('→'), dtype: 'fp32', tf32: false, timing: 'host→host incl. copies', epilogue: epilogue.path, quick },
        machine,
        ...(batch === 256 ? { headline: true } : {}),
        extra: {
          oursComputeUs: Number(o.computeUs.toFixed(2)),
          oursTransferUs: Number(o.transferUs.toFixed(2)),
          oursHostToHostUs: Number(o.hostToHostUs.toFixed(2)),
          torchComputeUs: Number(t.computeUs.toFixed(2)),
          torchHostToHostUs: Number(t.hostToHostUs.toFixed(2)),
          computeOnlyRatio: Number((t.computeUs / o.computeUs).toFixed(4)),
          epilogueFallbackReason: epilogue.fallbackReason,
          torchTf32: torch.tf32,
          torchDevice: torch.device,
        },
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
