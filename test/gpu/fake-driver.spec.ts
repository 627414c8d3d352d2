/**
 * The same GPU checks against fake_nvidia.c, a host-memory stand-in for NVIDIA's libraries
 * built here with the C compiler: it exercises every koffi signature, the bigint pointers, the
 * kernel-argument block and the column-major GEMM layout without a GPU. Skipped, with the
 * reason, where there is no C compiler.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const cc = spawnSync('cc', ['--version']);
const haveCc = cc.status === 0;
const dir = mkdtempSync(join(tmpdir(), 'gpuflow-fake-nvidia-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!haveCc)(haveCc ? 'GPU code path on the fake driver' : 'fake driver skipped: no C compiler (cc)', () => {
  it('passes every GPU check, both epilogue paths included', () => {
    const lib = join(dir, 'libfake_nvidia.so');
    const build = spawnSync('cc', ['-shared', '-fPIC', '-O2', '-o', lib, 'test/gpu/fake-driver/fake_nvidia.c'], { encoding: 'utf8' });
    expect(build.stderr).toBe('');
    for (const name of ['libnvidia-ml.so.1', 'libcudart.so', 'libcublas.so', 'libcublasLt.so', 'libnvrtc.so', 'libcuda.so.1']) symlinkSync(lib, join(dir, name));
    const run = spawnSync('npx', ['tsx', 'test/gpu/checks.ts'], { encoding: 'utf8', env: { ...process.env, GPUFLOW_CUDA_LIB_DIR: dir }, timeout: 110_000 });
    const lines = run.stdout.trim().split('\n');
    expect(lines[lines.length - 1]).toMatch(/^\d+ passed, 0 failed$/);
    const report = JSON.parse(lines.slice(0, -1).join('\n')) as { device: { name: string }; checks: { name: string; ok: boolean }[] };
    expect(report.device.name).toBe('gpuflow fake GPU');
    expect(report.checks.filter((c) => c.name.includes('(nvrtc)')).length).toBe(2);
    expect(run.status).toBe(0);
  }, 120_000);
});
