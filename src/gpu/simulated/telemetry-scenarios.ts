/**
 * Labelled telemetry scenarios: seeded, pure generators of GpuSample streams that look like what NVML
 * reports for one device, each labelled with when (if ever) the device runs out of memory. They are the
 * evaluation corpus of the anomaly detector and a source of readings for simulated devices; every sample
 * says `simulated: true`.
 *
 * Memory is the part that matters for out-of-memory, and is modelled as a serving process would show it
 * through NVML: a level held by the framework's allocator (steady), allocate/free cycles (sawtooth),
 * short-lived extra allocations (burst), a leak growing until an allocation fails (leak), and a caching
 * allocator whose reserved pool ratchets up in steps because freed blocks no longer fit (fragmentation).
 * Utilisation, temperature and power follow a bursty load so that the other features are not constant.
 */
import type { GpuSample } from '../../domain/events/index.js';
import { seededRandom, type Random } from '../../domain/random.js';

export type ScenarioKind = 'steady' | 'sawtooth' | 'burst' | 'leak' | 'fragmentation';

export interface ScenarioSpec {
  kind: ScenarioKind;
  seed: number;
  durationMs: number;
  /** Sampling period; 500 ms is NVML sampling at 2 Hz. */
  periodMs?: number;
  startMs?: number;
  deviceIndex?: number;
  node?: string;
  memTotalBytes?: number;
  /** leak: growth in fractions of total memory per second. */
  leakRatePerSec?: number;
  /** leak and fragmentation: healthy time before the trouble starts. */
  healthyPrefixMs?: number;
  /** After an out-of-memory the process dies and its memory is freed; the trace goes on this long. */
  afterOomMs?: number;
}

export interface LabelledTrace {
  id: string;
  kind: ScenarioKind;
  deviceUuid: string;
  samples: GpuSample[];
  /** When an allocation fails (memory exhausted); null for a healthy trace. */
  oomAtMs: number | null;
  /** When the trouble begins (leak or fragmentation start); alerts before it are false alarms. */
  troubleStartMs: number | null;
  /** The drawn parameters, for reports. */
  params: Record<string, number>;
}

const GIB = 2 ** 30;
const MIB = 2 ** 20;

/** Utilisation, temperature and power of a device serving bursty traffic. */
interface Load {
  util: number;
  temperatureC: number;
  next(rng: Random, dtSec: number): { util: number; temperatureC: number; powerW: number };
}

function servingLoad(rng: Random): Load {
  const mean = 20 + rng.next() * 60;
  const load: Load = {
    util: mean,
    temperatureC: 35 + 0.45 * mean,
    next(r, dtSec) {
      // Mean-reverting utilisation with occasional saturating bursts of traffic.
      const burst = r.next() < 0.01 ? 40 * r.next() : 0;
      load.util = Math.min(100, Math.max(0, load.util + 0.2 * (mean - load.util) + r.normal(0, 6) + burst));
      // The die heats towards a level set by load with a time constant of about 30 s.
      const target = 35 + 0.45 * load.util;
      load.temperatureC += (target - load.temperatureC) * Math.min(1, dtSec / 30) + r.normal(0, 0.2);
      const powerW = 75 + 5.5 * load.util + r.normal(0, 8);
      return { util: Math.round(load.util), temperatureC: Math.round(load.temperatureC), powerW: Math.max(60, Math.round(powerW * 10) / 10) };
    },
  };
  return load;
}

/** A memory-used fraction over time, as a small state machine stepped once per sample. */
type MemoryModel = (tMs: number, rng: Random) => number;

function steadyMemory(level: number): MemoryModel {
  // Allocators hold their pool; small allocations come and go on top of it.
  return (_t, rng) => level + (rng.next() < 0.05 ? rng.normal(0, 0.002) : 0);
}

function sawtoothMemory(rng0: Random): { model: MemoryModel; params: Record<string, number> } {
  const base = 0.25 + rng0.next() * 0.25;
  const peak = 0.75 + rng0.next() * 0.2;
  const periodMs = 10_000 + rng0.next() * 50_000;
  const rampShare = 0.7 + rng0.next() * 0.2;
  const phase = rng0.next() * periodMs;
  let cyclePeak = peak;
  let cycle = -1;
  const model: MemoryModel = (t, rng) => {
    const c = Math.floor((t + phase) / periodMs);
    if (c !== cycle) {
      cycle = c;
      cyclePeak = Math.min(0.97, peak + rng.normal(0, 0.01));
    }
    const within = ((t + phase) % periodMs) / periodMs;
    const level = within < rampShare ? base + (cyclePeak - base) * (within / rampShare) : base;
    return level + rng.normal(0, 0.001);
  };
  return { model, params: { base, peak, periodMs, rampShare } };
}

function burstMemory(rng0: Random): { model: MemoryModel; params: Record<string, number> } {
  const level = 0.3 + rng0.next() * 0.5;
  const meanGapMs = 60_000 + rng0.next() * 240_000;
  let nextBurstMs = rng0.exponential(meanGapMs);
  let burstEndMs = -1;
  let extra = 0;
  const model: MemoryModel = (t, rng) => {
    if (t >= nextBurstMs) {
      extra = Math.min(0.99 - level, 0.05 + rng.next() * 0.25);
      burstEndMs = t + 1_000 + rng.next() * 7_000;
      nextBurstMs = burstEndMs + rng.exponential(meanGapMs);
    }
    return level + (t < burstEndMs ? extra : 0) + (rng.next() < 0.05 ? rng.normal(0, 0.002) : 0);
  };
  return { model, params: { level, meanGapMs } };
}

function deviceUuidFor(kind: ScenarioKind, seed: number): string {
  const hex = (seed >>> 0).toString(16).padStart(8, '0');
  return `GPU-51a0${hex.slice(0, 4)}-${hex.slice(4)}-5349-4d55-${kind.padEnd(12, '0').slice(0, 12).replace(/[^0-9a-f]/g, '0')}`;
}

/** Generates one labelled trace; the same spec always gives the same samples. */
export function generateScenario(spec: ScenarioSpec): LabelledTrace {
  const rng = seededRandom(spec.seed);
  const periodMs = spec.periodMs ?? 500;
  const startMs = spec.startMs ?? 1_700_000_000_000;
  const memTotalBytes = spec.memTotalBytes ?? 80 * GIB;
  const deviceIndex = spec.deviceIndex ?? 0;
  const deviceUuid = deviceUuidFor(spec.kind, spec.seed);
  const load = servingLoad(rng);
  const params: Record<string, number> = {};
  let oomAtMs: number | null = null;
  let troubleStartMs: number | null = null;

  let memory: MemoryModel;
  switch (spec.kind) {
    case 'steady': {
      // Serving frameworks often reserve most of the card up front, so high steady levels are common.
      const level = 0.15 + rng.next() * 0.8;
      params.level = level;
      memory = steadyMemory(level);
      break;
    }
    case 'sawtooth': {
      const s = sawtoothMemory(rng);
      Object.assign(params, s.params);
      memory = s.model;
      break;
    }
    case 'burst': {
      const b = burstMemory(rng);
      Object.assign(params, b.params);
      memory = b.model;
      break;
    }
    case 'leak': {
      const prefix = spec.healthyPrefixMs ?? 300_000;
      const rate = spec.leakRatePerSec ?? 0.01;
      const level = 0.2 + rng.next() * 0.5;
      troubleStartMs = startMs + prefix;
      const fullAtMs = prefix + ((1 - level) / rate) * 1000;
      oomAtMs = startMs + Math.ceil(fullAtMs / periodMs) * periodMs;
      Object.assign(params, { level, leakRatePerSec: rate, healthyPrefixMs: prefix });
      const healthy = steadyMemory(level);
      memory = (t, r) => {
        if (t < prefix) return healthy(t, r);
        if (t < fullAtMs) return level + (rate * (t - prefix)) / 1000 + r.normal(0, 0.0005);
        // The allocation failed and the process died: its memory is back with the driver.
        return 0.02 + r.next() * 0.005;
      };
      break;
    }
    case 'fragmentation': {
      const prefix = spec.healthyPrefixMs ?? 300_000;
      const base = 0.3 + rng.next() * 0.3;
      troubleStartMs = startMs + prefix;
      // Pre-draw the staircase: the pool grows by a block whenever a request does not fit the free blocks.
      const steps: { atMs: number; level: number }[] = [];
      let level = base;
      let t = prefix;
      for (;;) {
        t += 5_000 + rng.next() * 35_000;
        const block = 0.01 + rng.next() * 0.05;
        if (level + block > 1) break;
        level += block;
        steps.push({ atMs: t, level });
      }
      oomAtMs = startMs + Math.ceil(t / periodMs) * periodMs;
      Object.assign(params, { base, steps: steps.length, healthyPrefixMs: prefix });
      const healthy = steadyMemory(base);
      memory = (tm, r) => {
        if (tm < prefix) return healthy(tm, r);
        if (tm >= t) return 0.02 + r.next() * 0.005;
        let current = base;
        for (const s of steps) if (s.atMs <= tm) current = s.level;
        return current + (r.next() < 0.05 ? r.normal(0, 0.002) : 0);
      };
      break;
    }
  }

  const endMs = oomAtMs === null ? spec.durationMs : Math.max(spec.durationMs, oomAtMs - startMs + (spec.afterOomMs ?? 60_000));
  const samples: GpuSample[] = [];
  for (let t = 0; t < endMs; t += periodMs) {
    const fraction = Math.min(1, Math.max(0, memory(t, rng)));
    const memUsedBytes = Math.round((fraction * memTotalBytes) / (2 * MIB)) * 2 * MIB;
    const l = load.next(rng, periodMs / 1000);
    samples.push({
      deviceUuid,
      deviceIndex,
      deviceName: 'NVIDIA H100 80GB HBM3 (simulated)',
      pciBusId: `00000000:${(deviceIndex + 1).toString(16).padStart(2, '0')}:00.0`,
      node: spec.node ?? 'sim-node',
      timestampMs: startMs + t,
      memTotalBytes,
      memUsedBytes,
      memFreeBytes: memTotalBytes - memUsedBytes,
      gpuUtil: l.util,
      memUtil: Math.round(l.util * 0.6),
      temperatureC: l.temperatureC,
      powerW: l.powerW,
      smClockMhz: l.util > 5 ? 1980 : 345,
      memClockMhz: 2619,
      eccErrors: 0,
      simulated: true,
    });
  }
  return { id: `${spec.kind}-${spec.seed}`, kind: spec.kind, deviceUuid, samples, oomAtMs, troubleStartMs, params };
}
