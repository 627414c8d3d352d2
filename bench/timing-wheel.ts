/**
 * `npm run bench -- timing-wheel`: the batcher's timer store under a schedule + cancel + expire mix
 * at 10k, 100k and 1M pending timers, against a binary-heap timer queue (what most code would
 * use), with Node's own setTimeout/clearTimeout reported beside them.
 *
 * The mix, in virtual time, per 1 ms step: the timers due expire (about N/D of them for delays
 * uniform in [1, D] ms, D = N/100 so that 100 expire per step at every size), as many random
 * pending timers are cancelled (a request batched before its timeout), and each expired or
 * cancelled timer is replaced, so N stay pending. Throughput counts schedules, cancels and expiries.
 *
 * Memory per pending timer is measured with global.gc (the benchmark re-runs itself under
 * --expose-gc when needed): heap plus array-buffer bytes after filling, minus before, over a
 * million timers in all (small sizes in several copies).
 * setTimeout is measured for scheduling and cancelling only (its timers expire in wall time).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../src/domain/random.js';
import { TimingWheel } from '../src/processors/batching/timing-wheel.js';
import { BinaryHeapTimers, type HeapTimer } from './lib/binary-heap-timers.js';
import { row, type BenchRow } from './result.js';

const CHILD_FLAG = '--timing-wheel-child';
const SIZES = [10_000, 100_000, 1_000_000];
const EXPIRIES_PER_STEP = 100;
const OPS_PER_SIZE = 2_000_000;

interface Measure {
  opsPerSec: number;
  fillMs: number;
}

/** Common face of the two queues for the mix; handles stay inside each adapter. */
interface TimerQueue {
  fill(n: number, delay: () => number): void;
  /** One step: advance to now, replace what expired, cancel and replace `cancels` random ones. */
  step(now: number, cancels: number, delay: () => number, pick: () => number): number;
}

function wheelQueue(n: number): TimerQueue {
  const wheel = new TimingWheel<number>({ startMs: 0, initialCapacity: 1024 });
  const handles = new Float64Array(n);
  const refill: number[] = [];
  let now = 0;
  const onExpire = (i: number): void => {
    refill.push(i);
  };
  return {
    fill(count, delay) {
      for (let i = 0; i < count; i++) handles[i] = wheel.schedule(delay(), i);
    },
    step(at, cancels, delay, pick) {
      now = at;
      let ops = wheel.advanceTo(now, onExpire);
      for (const i of refill) handles[i] = wheel.schedule(now + delay(), i);
      ops += refill.length;
      refill.length = 0;
      for (let c = 0; c < cancels; c++) {
        const i = pick();
        wheel.cancel(handles[i]!);
        handles[i] = wheel.schedule(now + delay(), i);
      }
      return ops + 2 * cancels;
    },
  };
}

function heapQueue(n: number): TimerQueue {
  const heap = new BinaryHeapTimers<number>();
  const handles: HeapTimer<number>[] = new Array<HeapTimer<number>>(n);
  const refill: number[] = [];
  const onExpire = (i: number): void => {
    refill.push(i);
  };
  return {
    fill(count, delay) {
      for (let i = 0; i < count; i++) handles[i] = heap.schedule(delay(), i);
    },
    step(now, cancels, delay, pick) {
      let ops = heap.advanceTo(now, onExpire);
      for (const i of refill) handles[i] = heap.schedule(now + delay(), i);
      ops += refill.length;
      refill.length = 0;
      for (let c = 0; c < cancels; c++) {
        const i = pick();
        heap.cancel(handles[i]!);
        handles[i] = heap.schedule(now + delay(), i);
      }
      return ops + 2 * cancels;
    },
  };
}

function gcAvailable(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}

/** Two full collections: array-buffer backing stores of dead queues go with the second. */
function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  collect?.();
  collect?.();
}

function usedBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function measure(make: (n: number) => TimerQueue, n: number, seed: number): Measure {
  const random = seededRandom(seed);
  const span = Math.max(100, n / EXPIRIES_PER_STEP);
  const delay = (): number => 1 + Math.floor(random.next() * span);
  const pick = (): number => Math.floor(random.next() * n);
  const queue = make(n);
  const t0 = performance.now();
  queue.fill(n, delay);
  const fillMs = performance.now() - t0;
  let ops = 0;
  let now = 0;
  const t1 = performance.now();
  while (ops < OPS_PER_SIZE) {
    now += 1;
    ops += queue.step(now, EXPIRIES_PER_STEP, delay, pick);
  }
  const seconds = (performance.now() - t1) / 1000;
  return { opsPerSec: ops / seconds, fillMs };
}

/**
 * Heap + array-buffer bytes per pending timer. Small sizes are filled in several copies (a
 * million timers in all) so that the collector's own noise does not swamp them.
 */
function bytesPerTimer(make: (n: number) => TimerQueue, n: number, seed: number): number {
  const random = seededRandom(seed);
  const delay = (): number => 1 + Math.floor(random.next() * 10_000);
  const copies = Math.max(1, Math.round(1_000_000 / n));
  const kept: TimerQueue[] = [];
  gc();
  const before = usedBytes();
  for (let c = 0; c < copies; c++) {
    const queue = make(n);
    queue.fill(n, delay);
    kept.push(queue);
  }
  gc();
  const bytes = usedBytes() - before;
  if (kept.length !== copies) throw new Error('queues were not kept alive while measuring');
  return bytes / (copies * n);
}

/** setTimeout + clearTimeout of n far-future timers: wall-clock timers cannot be expired in virtual time. */
function measureSetTimeout(n: number): { opsPerSec: number; bytesPerTimer: number } {
  const noop = (): void => undefined;
  gc();
  const before = usedBytes();
  const handles: NodeJS.Timeout[] = new Array<NodeJS.Timeout>(n);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) handles[i] = setTimeout(noop, 3_600_000 + (i % 10_000)).unref();
  const scheduleMs = performance.now() - t0;
  gc();
  const bytesPerTimer = (usedBytes() - before) / n;
  const t1 = performance.now();
  for (let i = 0; i < n; i++) clearTimeout(handles[i]);
  const cancelMs = performance.now() - t1;
  return { opsPerSec: (2 * n) / ((scheduleMs + cancelMs) / 1000), bytesPerTimer };
}

function measureAll(): BenchRow[] {
  // Warm both code paths up so that the first size does not pay for compilation.
  measure(wheelQueue, 10_000, 1);
  measure(heapQueue, 10_000, 1);
  if (!gcAvailable()) throw new Error('timing-wheel bench needs global.gc (run under --expose-gc)');
  // Memory first, before the throughput runs leave garbage of their own behind.
  const memory = SIZES.map((n) => ({ wheel: bytesPerTimer(wheelQueue, n, 7), heap: bytesPerTimer(heapQueue, n, 7) }));
  const rows: BenchRow[] = [];
  for (const [i, n] of SIZES.entries()) {
    const wheel = measure(wheelQueue, n, 42);
    const heap = measure(heapQueue, n, 42);
    const timeout = measureSetTimeout(n);
    rows.push(
      row({
        name: `timing-wheel schedule+cancel+expire mix, ${n} pending`,
        unit: 'ops/s',
        ours: Math.round(wheel.opsPerSec),
        baseline: { name: 'binary-heap timer queue (indexed, O(log n) cancel)', value: Math.round(heap.opsPerSec) },
        higherIsBetter: true,
        headline: n === 1_000_000,
        params: { pending: n, opsMeasured: OPS_PER_SIZE, expiriesPerStep: EXPIRIES_PER_STEP, cancelsPerStep: EXPIRIES_PER_STEP, delayRangeMs: [1, Math.max(100, n / EXPIRIES_PER_STEP)], tickMs: 1 },
        extra: {
          bytesPerPendingTimer: { wheel: Math.round(memory[i]!.wheel), heap: Math.round(memory[i]!.heap), setTimeout: Math.round(timeout.bytesPerTimer) },
          fillMs: { wheel: Number(wheel.fillMs.toFixed(1)), heap: Number(heap.fillMs.toFixed(1)) },
          setTimeout: {
            opsPerSec: Math.round(timeout.opsPerSec),
            note: 'setTimeout + clearTimeout of n far-future timers only; expiry is wall-clock and not measured',
          },
          memoryMethod: 'global.gc(), then heapUsed + arrayBuffers after filling minus before, divided by pending timers; sizes under 1M filled in 1M/n copies',
        },
      }),
    );
  }
  return rows;
}

export async function run(args: string[]): Promise<BenchRow[]> {
  if (gcAvailable()) return measureAll();
  const child = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=4096', fileURLToPath(import.meta.url), CHILD_FLAG, ...args], {
    encoding: 'utf8',
    maxBuffer: 16 * 2 ** 20,
  });
  if (child.status !== 0) throw new Error(`timing-wheel bench child failed (${child.status}): ${child.stderr}`);
  return JSON.parse(child.stdout) as BenchRow[];
}

if (process.argv.includes(CHILD_FLAG)) {
  process.stdout.write(JSON.stringify(measureAll()));
}
