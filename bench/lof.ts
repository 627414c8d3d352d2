/**
 * `npm run bench -- lof`: the cost of one telemetry sample in the LOF detector, updating the sliding
 * window incrementally (insert the sample, evict the oldest, score) against refitting LOF on the whole
 * window for every sample, which is what a batch library such as scikit-learn offers.
 * Windows of 60 and 600 samples (30 s and 5 min at 2 Hz), k = 20, five features.
 */
import { seededRandom } from '../src/domain/random.js';
import { fitLof, scoreSamples, type Point } from '../src/processors/anomaly/lof.js';
import { emptyLofWindow, insertPoint, scoreAgainstWindow, windowPoints, type LofWindow } from '../src/processors/anomaly/lof-window.js';
import { row, type BenchRow } from './result.js';

const K = 20;
const DIMS = 5;

/** Points shaped like scaled telemetry: a slow drift with noise in every feature. */
function stream(n: number, seed: number): Point[] {
  const rng = seededRandom(seed);
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: DIMS }, (_, d) => 0.5 + 0.2 * Math.sin(i / (40 + 13 * d)) + rng.normal(0, 0.03)),
  );
}

/** Median of `rounds` timings of `fn` over `samples`, in microseconds per sample. */
function time(samples: readonly Point[], rounds: number, fn: (p: Point) => void): number {
  const perRound: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (const p of samples) fn(p);
    perRound.push(Number(process.hrtime.bigint() - t0) / 1e3 / samples.length);
  }
  perRound.sort((a, b) => a - b);
  return perRound[Math.floor(perRound.length / 2)] as number;
}

function measure(windowSize: number, quick: boolean): BenchRow {
  const warm = stream(windowSize, 7);
  const samples = stream(windowSize >= 600 ? (quick ? 60 : 200) : quick ? 300 : 2000, 11);
  const rounds = quick ? 3 : 5;
  const initial = warm.reduce<LofWindow>((w, p) => insertPoint(w, p), emptyLofWindow(K, windowSize));

  let w = initial;
  let sink = 0;
  const incremental = time(samples, rounds, (p) => {
    sink += scoreAgainstWindow(w, p);
    w = insertPoint(w, p);
  });

  let points = windowPoints(initial);
  const recompute = time(samples, rounds, (p) => {
    sink += scoreSamples(fitLof(points, K), [p])[0] as number;
    points = [...points.slice(1), p];
  });
  if (!Number.isFinite(sink)) throw new Error('LOF scores went non-finite');

  return row({
    name: `lof-window-${windowSize}`,
    unit: 'us/sample',
    ours: Number(incremental.toFixed(2)),
    baseline: { name: 'refit LOF on the window every sample', value: Number(recompute.toFixed(2)) },
    higherIsBetter: false,
    params: { window: windowSize, nNeighbors: K, features: DIMS, samplesTimed: samples.length, rounds },
    ...(windowSize === 600 ? { headline: true } : {}),
  });
}

export async function run(args: string[]): Promise<BenchRow[]> {
  const quick = args.includes('--quick');
  return [measure(60, quick), measure(600, quick)];
}
