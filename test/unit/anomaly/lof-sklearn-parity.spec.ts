import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fitLof, lofFromNeighbours, nearest, scoreFromNeighbours, scoreSamples, type Point } from '../../../src/processors/anomaly/lof.js';

/** Written by scripts/fixtures/gen_lof_fixtures.py from scikit-learn's LocalOutlierFactor. */
interface Fixture {
  name: string;
  nNeighbors: number;
  nNeighborsEffective: number;
  X: number[][];
  fit: {
    neighbourIndices: number[][];
    neighbourDistances: number[][];
    lrd: number[];
    negativeOutlierFactor: number[];
    neighbourSetsMatchIndexOrder: boolean[];
  };
  novelty?: {
    queries: number[][];
    neighbourIndices: number[][];
    neighbourDistances: number[][];
    scoreSamples: number[];
    neighbourSetsMatchIndexOrder: boolean[];
  };
}

const dir = join('test', 'fixtures', 'lof');
const fixtures: Fixture[] = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Fixture);

/** 1e-9, relative once values exceed 1 (duplicate points drive densities towards 1e10). */
function close(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected));
}

function expectClose(actual: readonly number[], expected: readonly number[], what: string): void {
  expect(actual.length, what).toBe(expected.length);
  const bad = expected.flatMap((e, i) => (close(actual[i] as number, e) ? [] : [`${what}[${i}]: ${actual[i]} vs ${e}`]));
  expect(bad, what).toEqual([]);
}

const sameSet = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && [...a].sort((x, y) => x - y).every((v, i) => v === [...b].sort((x, y) => x - y)[i]);

/** How much of the fixture data the own-neighbour comparisons reached (ties excluded some rows). */
const coverage = { fitRows: 0, fitCompared: 0, queries: 0, queriesCompared: 0 };

describe('LOF parity with scikit-learn', () => {
  it('covers several k, both modes, ties and duplicates', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(15);
    expect(new Set(fixtures.map((f) => f.nNeighborsEffective)).size).toBeGreaterThanOrEqual(6);
    expect(fixtures.every((f) => f.novelty !== undefined)).toBe(true);
    expect(fixtures.filter((f) => f.name.startsWith('lattice')).length).toBeGreaterThanOrEqual(3);
    expect(fixtures.filter((f) => f.name.startsWith('duplicates')).length).toBeGreaterThanOrEqual(3);
    // Some fixtures really do break ties differently, so the per-row checks below are exercised.
    expect(fixtures.some((f) => f.fit.neighbourSetsMatchIndexOrder.includes(false))).toBe(true);
  });

  for (const fx of fixtures) {
    describe(fx.name, () => {
      const X = fx.X as Point[];
      const model = fitLof(X, fx.nNeighbors);

      it('uses the same effective k and the same neighbour distances', () => {
        expect(model.k).toBe(fx.nNeighborsEffective);
        model.neighbours.distances.forEach((row, i) => expectClose(row, fx.fit.neighbourDistances[i] as number[], `distances row ${i}`));
      });

      it('agrees on neighbour sets exactly where scikit-learn reports index-order ties', () => {
        const agree = model.neighbours.indices.map((row, i) => sameSet(row, fx.fit.neighbourIndices[i] as number[]));
        expect(agree).toEqual(fx.fit.neighbourSetsMatchIndexOrder);
      });

      it('given scikit-learn\'s neighbours, computes its lrd and negative_outlier_factor_', () => {
        const given = lofFromNeighbours(X, fx.nNeighborsEffective, {
          indices: fx.fit.neighbourIndices,
          distances: fx.fit.neighbourDistances,
        });
        expectClose(given.lrd, fx.fit.lrd, 'lrd');
        expectClose(given.negativeOutlierFactor, fx.fit.negativeOutlierFactor, 'negative_outlier_factor_');
      });

      it('fit mode: matches lrd and negative_outlier_factor_ on every row untouched by a tie difference', () => {
        const agree = fx.fit.neighbourSetsMatchIndexOrder;
        const rows = X.map((_, i) => i);
        const lrdRows = rows.filter((i) => agree[i]);
        // A row's score depends on its neighbours' densities too.
        const nofRows = lrdRows.filter((i) => (model.neighbours.indices[i] as number[]).every((j) => agree[j]));
        expectClose(lrdRows.map((i) => model.lrd[i] as number), lrdRows.map((i) => fx.fit.lrd[i] as number), 'lrd');
        expectClose(
          nofRows.map((i) => model.negativeOutlierFactor[i] as number),
          nofRows.map((i) => fx.fit.negativeOutlierFactor[i] as number),
          'negative_outlier_factor_',
        );
        coverage.fitRows += X.length;
        coverage.fitCompared += nofRows.length;
      });

      it('novelty mode: score_samples matches', () => {
        const nov = fx.novelty!;
        const Q = nov.queries as Point[];
        // Given scikit-learn's neighbours, always; with our own, wherever the query's neighbours and theirs agree.
        const given = lofFromNeighbours(X, fx.nNeighborsEffective, { indices: fx.fit.neighbourIndices, distances: fx.fit.neighbourDistances });
        expectClose(
          Q.map((_, i) => scoreFromNeighbours(given, nov.neighbourIndices[i] as number[], nov.neighbourDistances[i] as number[])),
          nov.scoreSamples,
          'score_samples given neighbours',
        );
        const ours = scoreSamples(model, Q);
        const agreeFit = fx.fit.neighbourSetsMatchIndexOrder;
        const rows = Q.map((_, i) => i).filter((i) => {
          const mine = nearest(X, Q[i] as Point, model.k, -1).indices;
          return sameSet(mine, nov.neighbourIndices[i] as number[]) && mine.every((j) => agreeFit[j]);
        });
        coverage.queries += Q.length;
        coverage.queriesCompared += rows.length;
        expectClose(rows.map((i) => ours[i] as number), rows.map((i) => nov.scoreSamples[i] as number), 'score_samples');
      });
    });
  }

  // Runs last (vitest keeps declaration order): most rows must have been compared with our own neighbours.
  it('compared at least 90% of fit rows and of novelty queries with our own neighbour choice', () => {
    expect(coverage.fitCompared / coverage.fitRows).toBeGreaterThan(0.9);
    expect(coverage.queriesCompared / coverage.queries).toBeGreaterThan(0.9);
  });
});
