/**
 * The kserve-v2 executor against a real KServe v2 server: MLServer (PyPI, pinned in
 * scripts/requirements-test.txt, installed into .gpuflow/venv-mlserver on first run or taken
 * from GPUFLOW_MLSERVER_PYTHON) serving a scikit-learn regressor trained at test time, on a
 * loopback port. What the executor returns must equal sklearn's own predictions.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModelManifest } from '../../src/domain/events/index.js';
import { KServeRequestError, KServeUnavailableError } from '../../src/gpu/errors.js';
import { float32Tensor, float32View } from '../../src/gpu/executors/executor.js';
import { KServeV2Executor } from '../../src/gpu/executors/kserve-v2.js';

const MODEL = 'sk-linear';

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** The Python that has MLServer: the env override, or a venv made from the pinned requirements. */
function mlserverPython(): string {
  const given = process.env.GPUFLOW_MLSERVER_PYTHON;
  if (given) return given;
  const venv = resolve('.gpuflow/venv-mlserver');
  const python = join(venv, 'bin', 'python');
  if (!existsSync(python)) {
    const made = spawnSync('python3', ['-m', 'venv', venv], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`cannot create a venv for MLServer: ${made.stderr}`);
  }
  const check = spawnSync(python, ['-c', 'import mlserver, mlserver_sklearn'], { encoding: 'utf8' });
  if (check.status !== 0) {
    const pip = spawnSync(python, ['-m', 'pip', 'install', '-q', '-r', 'scripts/requirements-test.txt'], { encoding: 'utf8', timeout: 600_000 });
    if (pip.status !== 0) throw new Error(`pip install -r scripts/requirements-test.txt failed: ${pip.stderr.slice(-2000)}`);
  }
  return python;
}

async function waitForReady(url: string, server: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`MLServer exited with ${server.exitCode}: ${log().slice(-2000)}`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`MLServer not ready within ${timeoutMs} ms: ${log().slice(-2000)}`);
}

function manifest(base: string, inputShape: number[]): ModelManifest {
  return { model: MODEL, version: 'v1', executor: 'kserve-v2', weightsUri: base, inputShape, dtype: 'FP32', memoryPerSampleBytes: 16, maxBatchSize: 64, preferredBatchSizes: [], maxQueueDelayMs: 1, commit: '' };
}

describe('kserve-v2 executor against MLServer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpuflow-kserve-'));
  let server: ChildProcess | undefined;
  let base = '';
  let probe: { inputs: number[][]; predictions: number[] };

  beforeAll(async () => {
    const python = mlserverPython();
    const trained = spawnSync(python, ['scripts/gpu/train_sklearn_model.py', dir, MODEL], { encoding: 'utf8' });
    if (trained.status !== 0) throw new Error(`training failed: ${trained.stderr}`);
    probe = JSON.parse(trained.stdout) as typeof probe;
    const [http, grpc] = [await freePort(), await freePort()];
    base = `http://127.0.0.1:${http}`;
    let output = '';
    server = spawn(join(dirname(python), 'mlserver'), ['start', dir], {
      env: { ...process.env, MLSERVER_HTTP_PORT: String(http), MLSERVER_GRPC_PORT: String(grpc), MLSERVER_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    server.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitForReady(`${base}/v2/models/${MODEL}/ready`, server, () => output, 120_000);
  }, 900_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server?.once('exit', r));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("returns sklearn's own predictions", async () => {
    const executor = new KServeV2Executor(manifest(base, [4]));
    await executor.load();
    expect(executor.binary).toBe(false); // MLServer does not list the binary tensor extension
    const input = float32Tensor(Float32Array.from(probe.inputs.flat()), [probe.inputs.length, 4]);
    const result = await executor.execute(input);
    expect(result.simulated).toBe(false);
    expect(result.output.shape).toEqual([probe.inputs.length, 1]);
    const got = Array.from(float32View(result.output));
    probe.predictions.forEach((p, i) => expect(got[i]).toBeCloseTo(p, 5));
    expect(result.timings.computeUs).toBeGreaterThan(0);
  });

  it("surfaces the server's error for input the model refuses", async () => {
    const executor = new KServeV2Executor(manifest(base, [3]));
    await executor.load();
    const error = await executor.execute(float32Tensor(new Float32Array(6), [2, 3])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KServeRequestError);
    expect((error as KServeRequestError).status).toBe(500);
    expect((error as KServeRequestError).serverMessage).toMatch(/X has 3 features, but LinearRegression is expecting 4/);
  });

  it('says a model the server does not have is not ready', async () => {
    const executor = new KServeV2Executor(manifest(base, [4]), { modelName: 'no-such-model' });
    await expect(executor.load()).rejects.toThrow(KServeUnavailableError);
    await expect(executor.load()).rejects.toThrow(/no-such-model.*not ready/);
  });

  it('fails with a retriable typed error when the server is down', async () => {
    const executor = new KServeV2Executor(manifest(`http://127.0.0.1:${await freePort()}`, [4]), { timeoutMs: 2000 });
    const error = await executor.load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KServeUnavailableError);
    expect((error as KServeUnavailableError).retriable).toBe(true);
    expect((error as Error).message).toMatch(/cannot reach inference server/);
  });
});
