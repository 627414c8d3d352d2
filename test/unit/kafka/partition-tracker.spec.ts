import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionTracker } from '../../../src/kafka/consumer-source.js';

/** The reference: the commit point is one past the longest acked prefix of what was emitted. */
function referenceCommit(emitted: readonly number[], acked: ReadonlySet<number>): number | null {
  let point: number | null = null;
  for (const offset of emitted) {
    if (!acked.has(offset)) break;
    point = offset + 1;
  }
  return point;
}

describe('PartitionTracker', () => {
  it('commits up to the first offset not acked, whatever the ack order, gaps and repeats', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 400 }),
        fc.nat(1_000),
        (steps, picks, start) => {
          const emitted: number[] = [];
          let next = start;
          for (const step of steps) emitted.push((next += step));
          let released = 0;
          const tracker = new PartitionTracker(() => released++);
          const acked = new Set<number>();
          let emittedSoFar = 0;
          for (const pick of picks) {
            // Interleave emission and acks, as a consumer does.
            if (emittedSoFar < emitted.length && pick % 3 !== 0) tracker.emit(emitted[emittedSoFar++]!);
            if (emittedSoFar === 0) continue;
            const offset = emitted[pick % emittedSoFar]!;
            tracker.release(offset);
            acked.add(offset);
            expect(tracker.committable).toBe(referenceCommit(emitted.slice(0, emittedSoFar), acked));
          }
          // Each emitted offset is released once, however often it was acked.
          expect(released).toBe(acked.size);
        },
      ),
    );
  });

  it('ignores acks of offsets it never emitted, and an offset acked at once counts as no release', () => {
    let released = 0;
    const tracker = new PartitionTracker(() => released++);
    tracker.emit(10);
    tracker.emit(12);
    expect(tracker.ack(11)).toBe(false);
    expect(tracker.ack(9)).toBe(false);
    expect(tracker.committable).toBeNull();
    expect(tracker.ack(10)).toBe(true);
    expect(tracker.committable).toBe(11);
    expect(released).toBe(0);
    tracker.release(12);
    tracker.release(12);
    expect(released).toBe(1);
    expect(tracker.committable).toBe(13);
  });

  it('holds a million pending offsets in typed arrays and drains them in any order', () => {
    const tracker = new PartitionTracker(() => undefined);
    const n = 1_000_000;
    for (let i = 0; i < n; i++) tracker.emit(i);
    for (let i = 1; i < n; i += 2) tracker.release(i);
    expect(tracker.committable).toBeNull();
    for (let i = 0; i < n; i += 2) tracker.release(i);
    expect(tracker.committable).toBe(n);
  });
});
