import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitLof, scoreSamples, type Point } from '../../../src/processors/anomaly/lof.js';
import { emptyLofWindow, evictOldest, insertPoint, scoreAgainstWindow, windowModel, windowPoints, windowSize, type LofWindow } from '../../../src/processors/anomaly/lof-window.js';

/** Coordinates on a coarse grid, so that equal distances and duplicate points are common. */
const coarsePoint = (dims: number) => fc.array(fc.integer({ min: 0, max: 4 }), { minLength: dims, maxLength: dims });
const finePoint = (dims: number) => fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: dims, maxLength: dims });

function expectSameAsBatch(w: LofWindow): void {
  const points = windowPoints(w);
  if (points.length < 2) return;
  const batch = fitLof(points, w.nNeighbors);
  const inc = windowModel(w);
  expect(inc.k).toBe(batch.k);
  expect(inc.neighbours.indices).toEqual(batch.neighbours.indices);
  expect(inc.neighbours.distances).toEqual(batch.neighbours.distances);
  expect(inc.kDistance).toEqual(batch.kDistance);
  expect(inc.lrd).toEqual(batch.lrd);
}

describe('incremental LOF window', () => {
  const scenario = (point: (dims: number) => fc.Arbitrary<number[]>) =>
    fc
      .record({ dims: fc.integer({ min: 1, max: 3 }), k: fc.integer({ min: 1, max: 6 }), capacity: fc.integer({ min: 2, max: 14 }) })
      .chain(({ dims, k, capacity }) =>
        fc.record({
          k: fc.constant(k),
          capacity: fc.constant(capacity),
          stream: fc.array(point(dims), { minLength: 1, maxLength: 40 }),
          queries: fc.array(point(dims), { minLength: 1, maxLength: 3 }),
        }),
      );

  for (const [label, point] of [['with ties and duplicates', coarsePoint], ['on continuous data', finePoint]] as const) {
    it(`equals a batch refit after every insertion and eviction, ${label}`, () => {
      fc.assert(
        fc.property(scenario(point), ({ k, capacity, stream, queries }) => {
          let w = emptyLofWindow(k, capacity);
          stream.forEach((p, i) => {
            w = insertPoint(w, p);
            expect(windowSize(w)).toBe(Math.min(capacity, i + 1));
            expectSameAsBatch(w);
            if (windowSize(w) >= 2) {
              const model = fitLof(windowPoints(w), k);
              expect(queries.map((q) => scoreAgainstWindow(w, q))).toEqual(scoreSamples(model, queries as Point[]));
            }
          });
          // Draining from the front keeps it exact as well.
          while (windowSize(w) > 0) {
            w = evictOldest(w);
            expectSameAsBatch(w);
          }
        }),
        { numRuns: 300 },
      );
    });
  }

  it('keeps the newest `capacity` points in arrival order', () => {
    let w = emptyLofWindow(2, 4);
    for (let i = 0; i < 10; i++) w = insertPoint(w, [i]);
    expect(windowPoints(w)).toEqual([[6], [7], [8], [9]]);
  });

  it('leaves earlier windows untouched (updates are persistent)', () => {
    let w = emptyLofWindow(2, 6);
    for (let i = 0; i < 6; i++) w = insertPoint(w, [i * i]);
    const before = JSON.stringify(windowModel(w));
    insertPoint(w, [2.5]);
    evictOldest(w);
    expect(JSON.stringify(windowModel(w))).toBe(before);
  });

  it('scores a far point as an outlier and an interior one as typical', () => {
    let w = emptyLofWindow(5, 50);
    for (let i = 0; i < 50; i++) w = insertPoint(w, [Math.sin(i) * 0.5, Math.cos(i * 1.7) * 0.5]);
    expect(-scoreAgainstWindow(w, [8, 8])).toBeGreaterThan(5);
    expect(-scoreAgainstWindow(w, [0, 0])).toBeLessThan(1.5);
  });

  it('refuses to score an empty or one-point window and rejects bad parameters', () => {
    expect(() => scoreAgainstWindow(emptyLofWindow(3, 10), [0])).toThrow(RangeError);
    expect(() => scoreAgainstWindow(insertPoint(emptyLofWindow(3, 10), [0]), [0])).toThrow(RangeError);
    expect(() => emptyLofWindow(0, 10)).toThrow(RangeError);
    expect(() => emptyLofWindow(3, 1)).toThrow(RangeError);
  });
});
