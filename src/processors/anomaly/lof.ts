/**
 * Local Outlier Factor, exactly as scikit-learn's `LocalOutlierFactor` defines it (Euclidean metric),
 * so that scores computed here can be checked against it and read by anyone who knows it:
 *
 * - the neighbours of a training point are its `k` nearest other training points (the point itself
 *   excluded), with `k = max(1, min(nNeighbors, n - 1))`;
 * - k-distance(o) is the distance to o's k-th neighbour;
 * - reach-dist(p, o) = max(d(p, o), k-distance(o));
 * - lrd(p) = 1 / (mean of reach-dist(p, o) over p's neighbours + 1e-10), the guard keeping the density
 *   finite when more than k points coincide;
 * - negative_outlier_factor_(p) = -mean(lrd(o) / lrd(p)) over p's neighbours, and in novelty mode
 *   `scoreSamples(q)` is the same for a new point q against the fitted set (q is nobody's neighbour).
 *
 * Neighbours at equal distance are ordered by index (insertion order), a deterministic rule; scikit-learn's
 * own order among ties depends on its tree traversal, and the parity tests show where the two coincide.
 */

/** A point in feature space. */
export type Point = readonly number[];

/** The 1e-10 that scikit-learn adds to the mean reachability distance. */
export const LRD_GUARD = 1e-10;

/** Euclidean distance, summing squared differences in dimension order (as scikit-learn's trees do). */
export function euclidean(a: Point, b: Point): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const diff = (a[i] as number) - (b[i] as number);
    sum += diff * diff;
  }
  return Math.sqrt(sum);
}

/** The number of neighbours scikit-learn actually uses on `n` training points (`n_neighbors_`). */
export function effectiveNeighbours(nNeighbors: number, n: number): number {
  return Math.max(1, Math.min(nNeighbors, n - 1));
}

/** Neighbour lists, nearest first: `indices[i][j]` is the j-th neighbour of row i, at `distances[i][j]`. */
export interface Neighbourhoods {
  readonly indices: readonly (readonly number[])[];
  readonly distances: readonly (readonly number[])[];
}

/**
 * Keeps `ids`/`distances` the `limit` nearest seen so far, sorted by distance: an insertion into a short
 * sorted list, where a later id never overtakes an equal distance (candidates come in id order).
 */
export function insertNearest(ids: number[], distances: number[], limit: number, id: number, d: number): void {
  if (ids.length === limit && d >= (distances[limit - 1] as number)) return;
  let at = ids.length === limit ? limit - 1 : ids.length;
  while (at > 0 && (distances[at - 1] as number) > d) {
    distances[at] = distances[at - 1] as number;
    ids[at] = ids[at - 1] as number;
    at--;
  }
  distances[at] = d;
  ids[at] = id;
}

/**
 * The `k` nearest training points to `query`, ordered by (distance, index); `exclude` is the query's own
 * index when it is a training point (fit mode), or -1.
 */
export function nearest(train: readonly Point[], query: Point, k: number, exclude: number): { indices: number[]; distances: number[] } {
  const indices: number[] = [];
  const distances: number[] = [];
  for (let j = 0; j < train.length; j++) {
    if (j === exclude) continue;
    insertNearest(indices, distances, k, j, euclidean(query, train[j] as Point));
  }
  return { indices, distances };
}

/** A fitted LOF: what `fit` computes and what novelty scoring needs. */
export interface LofModel {
  readonly k: number;
  readonly points: readonly Point[];
  readonly neighbours: Neighbourhoods;
  readonly kDistance: readonly number[];
  readonly lrd: readonly number[];
  readonly negativeOutlierFactor: readonly number[];
}

/**
 * lrd of one point from its neighbours' k-distances and its distances to them, nearest first (`distances`
 * may run longer; the first `neighbourKDistances.length` are used). Sums in list order, as every caller
 * must, so that batch and incremental results are identical.
 */
export function localReachabilityDensity(distances: readonly number[], neighbourKDistances: readonly number[]): number {
  const k = neighbourKDistances.length;
  let sum = 0;
  for (let j = 0; j < k; j++) sum += Math.max(distances[j] as number, neighbourKDistances[j] as number);
  return 1 / (sum / k + LRD_GUARD);
}

/** Negative LOF of a point of density `lrdSelf` whose neighbours have densities `neighbourLrds`. */
export function negativeOutlierFactorOf(neighbourLrds: readonly number[], lrdSelf: number): number {
  let sum = 0;
  for (const l of neighbourLrds) sum += l / lrdSelf;
  return -(sum / neighbourLrds.length);
}

/**
 * LOF from given neighbour lists. `fitLof` calls it with its own lists; tests call it with scikit-learn's
 * to check the arithmetic independently of how ties were broken.
 */
export function lofFromNeighbours(points: readonly Point[], k: number, neighbours: Neighbourhoods): LofModel {
  const kDistance = neighbours.distances.map((row) => row[k - 1] as number);
  const lrd = neighbours.indices.map((row, i) =>
    localReachabilityDensity(neighbours.distances[i] as number[], row.map((j) => kDistance[j] as number)),
  );
  const negativeOutlierFactor = neighbours.indices.map((row, i) =>
    negativeOutlierFactorOf(row.map((j) => lrd[j] as number), lrd[i] as number),
  );
  return { k, points, neighbours, kDistance, lrd, negativeOutlierFactor };
}

/** Fits LOF on `points` (at least two) in scikit-learn's default, non-novelty mode. */
export function fitLof(points: readonly Point[], nNeighbors: number): LofModel {
  if (points.length < 2) throw new RangeError(`LOF needs at least 2 points, got ${points.length}`);
  if (!Number.isInteger(nNeighbors) || nNeighbors < 1) throw new RangeError(`nNeighbors must be a positive integer, got ${nNeighbors}`);
  const k = effectiveNeighbours(nNeighbors, points.length);
  const rows = points.map((p, i) => nearest(points, p, k, i));
  return lofFromNeighbours(points, k, { indices: rows.map((r) => r.indices), distances: rows.map((r) => r.distances) });
}

/** Novelty-mode `score_samples` of one query against given neighbours in the fitted set. */
export function scoreFromNeighbours(model: LofModel, indices: readonly number[], distances: readonly number[]): number {
  const lrdSelf = localReachabilityDensity(distances, indices.map((j) => model.kDistance[j] as number));
  return negativeOutlierFactorOf(indices.map((j) => model.lrd[j] as number), lrdSelf);
}

/** Novelty-mode `score_samples`: the negative LOF of each query against the fitted set (lower is stranger). */
export function scoreSamples(model: LofModel, queries: readonly Point[]): number[] {
  return queries.map((q) => {
    const { indices, distances } = nearest(model.points, q, model.k, -1);
    return scoreFromNeighbours(model, indices, distances);
  });
}
