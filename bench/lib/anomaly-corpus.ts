/**
 * The evaluation corpus of the out-of-memory detector: generated scenarios (see
 * src/gpu/simulated/telemetry-scenarios.ts) plus every recorded trace in test/fixtures/gpu-traces/.
 */
import { generateScenario } from '../../src/gpu/simulated/telemetry-scenarios.js';
import { loadRecordedTraces, type EvalTrace } from './anomaly-eval.js';

export const LEAK_RATES_PER_SEC = [0.001, 0.005, 0.02, 0.05] as const;

export interface CorpusSize {
  steadyHours: number;
  sawtoothHours: number;
  burstHours: number;
  leaksPerRate: number;
  fragmentations: number;
}

export const FULL_CORPUS: CorpusSize = { steadyHours: 100, sawtoothHours: 10, burstHours: 10, leaksPerRate: 25, fragmentations: 25 };
export const QUICK_CORPUS: CorpusSize = { steadyHours: 10, sawtoothHours: 2, burstHours: 2, leaksPerRate: 5, fragmentations: 5 };

const HOUR = 3_600_000;

/** Healthy traces are one device-hour (sawtooth and burst half an hour) each; seeds never repeat. */
export function buildCorpus(size: CorpusSize, seed = 1): EvalTrace[] {
  let next = seed * 100_000;
  const traces: EvalTrace[] = [];
  for (let i = 0; i < size.steadyHours; i++) traces.push(generateScenario({ kind: 'steady', seed: next++, durationMs: HOUR }));
  for (let i = 0; i < size.sawtoothHours * 2; i++) traces.push(generateScenario({ kind: 'sawtooth', seed: next++, durationMs: HOUR / 2 }));
  for (let i = 0; i < size.burstHours * 2; i++) traces.push(generateScenario({ kind: 'burst', seed: next++, durationMs: HOUR / 2 }));
  for (const rate of LEAK_RATES_PER_SEC) {
    for (let i = 0; i < size.leaksPerRate; i++) traces.push(generateScenario({ kind: 'leak', seed: next++, durationMs: 0, leakRatePerSec: rate }));
  }
  for (let i = 0; i < size.fragmentations; i++) traces.push(generateScenario({ kind: 'fragmentation', seed: next++, durationMs: 0 }));
  return [...traces, ...loadRecordedTraces()];
}

/** The group a trace is reported in: leaks by rate, everything else by kind. */
export function groupOf(trace: EvalTrace): string {
  return trace.kind === 'leak' ? `leak ${(100 * (trace.params.leakRatePerSec as number)).toFixed(1)}%/s` : trace.kind;
}
