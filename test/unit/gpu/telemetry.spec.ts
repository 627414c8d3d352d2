import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { NoGpuError } from '../../../src/domain/errors.js';
import { libraryCandidates, openLibrary } from '../../../src/gpu/native.js';
import { H100_SXM, SimulatedDevices, simulatedUuid } from '../../../src/gpu/simulated/simulated-devices.js';
import { readRound, telemetryRounds } from '../../../src/gpu/telemetry-sampler.js';

describe('simulated devices', () => {
  const devices = new SimulatedDevices([H100_SXM, H100_SXM], {
    node: 'n1',
    reading: (i, t) => ({ memUsedBytes: 2 ** 30 * (1 + i) + t * 1000 }),
  });

  it('say simulated everywhere and use NVML-shaped identities', () => {
    for (const d of devices.devices()) {
      expect(d.simulated).toBe(true);
      expect(d.uuid).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
    expect(devices.read(1, 5).simulated).toBe(true);
    expect(devices.topology()).toEqual([{ a: 0, b: 1, level: 'SYSTEM' }]);
    expect(simulatedUuid('n1', 0)).not.toBe(simulatedUuid('n2', 0));
  });

  it('read deterministically from the scenario and keep used + free = total', () => {
    const s = devices.read(1, 10);
    expect(s.memUsedBytes).toBe(2 * 2 ** 30 + 10_000);
    expect(s.memUsedBytes + s.memFreeBytes).toBe(s.memTotalBytes);
    expect(devices.read(1, 10)).toEqual(s);
  });
});

describe('telemetry sampler', () => {
  it('reads every device each round at the configured rate, in virtual time', () => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    const devices = new SimulatedDevices([H100_SXM, H100_SXM], { node: 'n', reading: (_i, t) => ({ gpuUtil: t / 100 }) });
    scheduler.run(({ expectObservable }) => {
      let clock = 0;
      const rounds = telemetryRounds(devices, { intervalMs: 500, scheduler, clockUs: () => (clock += 7) });
      // Rounds at 0, 500, 1000 ms; each measured cost: 7 µs per round / 2 devices.
      expectObservable(rounds, '^ 1100ms !').toBe('a 499ms b 499ms c', {
        a: expect.objectContaining({ timestampMs: 0, costUsPerDevice: 3.5, failures: [] }),
        b: expect.objectContaining({ timestampMs: 500, samples: [expect.objectContaining({ gpuUtil: 5, deviceIndex: 0 }), expect.objectContaining({ deviceIndex: 1 })] }),
        c: expect.objectContaining({ timestampMs: 1000 }),
      });
    });
  });

  it('reports a failing device in the round instead of stopping', () => {
    const devices = new SimulatedDevices([H100_SXM], { node: 'n' });
    const broken = { simulated: true, deviceCount: () => 2, read: (i: number, t: number) => { if (i === 1) throw new Error('GPU is lost'); return devices.read(i, t); }, close: () => {} };
    const round = readRound(broken, 1, () => 0);
    expect(round.samples).toHaveLength(1);
    expect(round.failures).toEqual([{ deviceIndex: 1, reason: 'GPU is lost' }]);
  });

  it('refuses a non-positive interval', () => {
    expect(() => telemetryRounds(new SimulatedDevices([], { node: 'n' }), { intervalMs: 0 })).toThrow(RangeError);
  });
});

describe('native libraries', () => {
  it('search the override folder, then the loader path, then the CUDA folders', () => {
    const c = libraryCandidates('libcudart', ['13', '12'], { GPUFLOW_CUDA_LIB_DIR: '/opt/x' });
    expect(c.slice(0, 3)).toEqual(['/opt/x/libcudart.so', '/opt/x/libcudart.so.13', '/opt/x/libcudart.so.12']);
    expect(c).toContain('libcudart.so.13');
    expect(c).toContain('/usr/local/cuda/targets/x86_64-linux/lib/libcudart.so.12');
  });

  it('turn a library that is not there into NoGpuError naming what was tried', () => {
    expect(() => openLibrary('test library', ['libgpuflow-not-there.so.9'])).toThrow(NoGpuError);
    expect(() => openLibrary('test library', ['libgpuflow-not-there.so.9'])).toThrow(/test library not found.*libgpuflow-not-there/);
  });
});
