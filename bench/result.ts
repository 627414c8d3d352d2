import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

/** One row of bench/results/NAME.json, in the format DESIGN.md fixes. */
export interface BenchRow {
  name: string;
  unit: string;
  ours: number;
  baseline: { name: string; value: number };
  ratio: number;
  higherIsBetter: boolean;
  params: Record<string, unknown>;
  machine: string;
  headline?: boolean;
  /** Anything else worth reporting beside the ratio (other baselines, memory, sweeps). */
  extra?: Record<string, unknown>;
}

export function machineDescription(device?: string): string {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  const base = `${cpus().length} x ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
  return device ? `${device}; host ${base}` : base;
}

/** Builds a row; the ratio is always "how many times better ours is" in the row's direction. */
export function row(input: Omit<BenchRow, 'ratio' | 'machine'> & { machine?: string }): BenchRow {
  const { ours, baseline, higherIsBetter } = input;
  const ratio = higherIsBetter ? ours / baseline.value : baseline.value / ours;
  return { ...input, ratio: Number(ratio.toFixed(4)), machine: input.machine ?? machineDescription() };
}

export function writeResult(name: string, result: BenchRow | BenchRow[], dir = 'bench/results'): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}
