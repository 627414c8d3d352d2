/**
 * A sliding window of points with Local Outlier Factor maintained incrementally, after Pokrajac,
 * Lazarevic and Latecki, "Incremental Local Outlier Detection for Data Streams" (2007): inserting or
 * deleting a point updates only the neighbourhoods it touches (the lists it enters or leaves, the
 * k-distances that move, then the densities that read them) instead of refitting the window on every
 * sample.
 *
 * Each point keeps its nearest `k + spare` neighbours, not just `k`, so that when the oldest point leaves
 * a neighbour list the next candidate is already known; a list is rescanned only once its spares run out.
 *
 * The result is exactly what `fitLof` gives on the window's points in arrival order: neighbours at
 * equal distance are ordered by arrival, and densities are summed in the same order, so the two agree
 * bit for bit (a property test checks it). The window is an immutable value: an update copies the list
 * of entries (one pointer per point) and rebuilds only the records it changes, so earlier windows stay valid.
 */
import { euclidean, effectiveNeighbours, insertNearest, localReachabilityDensity, negativeOutlierFactorOf, type LofModel, type Point } from './lof.js';

/**
 * One point of the window and what LOF keeps about it. `neighbours` (arrival numbers) and `distances`
 * hold, nearest first, the exact nearest `L` other points for some L >= k; the first k are the LOF
 * neighbourhood. `holders` are the points whose lists hold this one: the reverse index that lets an
 * update touch only the lists it affects.
 */
interface Entry {
  readonly seq: number;
  readonly point: Point;
  readonly neighbours: readonly number[];
  readonly distances: readonly number[];
  readonly kDistance: number;
  readonly lrd: number;
  readonly holders: readonly number[];
}

/** An entry being changed by one update: its own copies of the lists. */
interface Draft {
  seq: number;
  point: Point;
  neighbours: number[];
  distances: number[];
  kDistance: number;
  lrd: number;
  holders: number[];
}

export interface LofWindow {
  readonly nNeighbors: number;
  readonly capacity: number;
  /** Candidates kept beyond the k neighbours. */
  readonly spare: number;
  /** Entries in arrival order: the one with arrival number `seq` at `seq - oldest`. */
  readonly entries: readonly Entry[];
  /** Arrival number of the oldest point; the window holds `oldest .. next - 1`. */
  readonly oldest: number;
  readonly next: number;
}

/** An empty window; `spare` defaults to k, which keeps rescans rare for a few hundred bytes per point. */
export function emptyLofWindow(nNeighbors: number, capacity: number, spare = nNeighbors): LofWindow {
  if (!Number.isInteger(nNeighbors) || nNeighbors < 1) throw new RangeError(`nNeighbors must be a positive integer, got ${nNeighbors}`);
  if (!Number.isInteger(capacity) || capacity < 2) throw new RangeError(`capacity must be an integer of at least 2, got ${capacity}`);
  if (!Number.isInteger(spare) || spare < 0) throw new RangeError(`spare must be a non-negative integer, got ${spare}`);
  return { nNeighbors, capacity, spare, entries: [], oldest: 0, next: 0 };
}

export function windowSize(w: LofWindow): number {
  return w.next - w.oldest;
}

function entryOf(w: LofWindow, seq: number): Entry {
  const e = w.entries[seq - w.oldest];
  if (e === undefined || e.seq !== seq) throw new RangeError(`no point ${seq} in the LOF window`);
  return e;
}

/** The window's points, oldest first. */
export function windowPoints(w: LofWindow): Point[] {
  const out: Point[] = [];
  for (const e of w.entries) out.push(e.point);
  return out;
}

/** The nearest `limit` points of the window `w` to `query` by (distance, arrival), skipping `exclude`. */
function nearestInWindow(w: LofWindow, query: Point, limit: number, exclude: number): { neighbours: number[]; distances: number[] } {
  const neighbours: number[] = [];
  const distances: number[] = [];
  const entries = w.entries;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    if (e.seq === exclude) continue;
    insertNearest(neighbours, distances, limit, e.seq, euclidean(query, e.point));
  }
  return { neighbours, distances };
}

/**
 * One update's working set: entries are copied on first change and written back by `commit`, so the
 * window the update started from is never modified.
 */
class Edit {
  /** Drafts by position in the window, and the positions drafted, in order. */
  private readonly drafts: (Draft | undefined)[];
  private readonly touched: number[] = [];
  private readonly changed: number[] = [];
  private readonly moved: number[] = [];

  constructor(
    private readonly entries: Entry[],
    private readonly oldest: number,
    private readonly k: number,
  ) {
    this.drafts = new Array<Draft | undefined>(entries.length);
  }

  get(seq: number): Entry | Draft {
    const i = seq - this.oldest;
    return this.drafts[i] ?? (this.entries[i] as Entry);
  }

  edit(seq: number): Draft {
    const i = seq - this.oldest;
    let d = this.drafts[i];
    if (d === undefined) {
      const e = this.entries[i] as Entry;
      d = { seq: e.seq, point: e.point, neighbours: e.neighbours.slice(), distances: e.distances.slice(), kDistance: e.kDistance, lrd: e.lrd, holders: e.holders.slice() };
      this.drafts[i] = d;
      this.touched.push(i);
    }
    return d;
  }

  /** Replaces `seq`'s candidate list, keeping the reverse index and the change flags in step. */
  setList(seq: number, neighbours: number[], distances: number[]): void {
    const d = this.edit(seq);
    const before = new Set(d.neighbours);
    const after = new Set(neighbours);
    for (const n of before) if (!after.has(n)) this.dropHolder(n, seq);
    for (const n of after) if (!before.has(n)) this.edit(n).holders.push(seq);
    const firstKChanged = d.neighbours.length < this.k || neighbours.slice(0, this.k).some((n, j) => d.neighbours[j] !== n);
    d.neighbours = neighbours;
    d.distances = distances;
    this.settle(d, firstKChanged);
  }

  /** Puts `newcomer` at position `at` of `seq`'s list, dropping the last candidate beyond `limit`. */
  insertInto(seq: number, at: number, newcomer: number, distance: number, limit: number): void {
    const d = this.edit(seq);
    d.neighbours.splice(at, 0, newcomer);
    d.distances.splice(at, 0, distance);
    this.edit(newcomer).holders.push(seq);
    if (d.neighbours.length > limit) {
      this.dropHolder(d.neighbours.pop() as number, seq);
      d.distances.pop();
    }
    this.settle(d, at < this.k);
  }

  /** Takes `gone` out of `seq`'s list; returns the number of candidates left. */
  removeFrom(seq: number, gone: number): number {
    const d = this.edit(seq);
    const at = d.neighbours.indexOf(gone);
    d.neighbours.splice(at, 1);
    d.distances.splice(at, 1);
    if (d.neighbours.length >= this.k) this.settle(d, at < this.k);
    return d.neighbours.length;
  }

  dropHolder(of: number, holder: number): void {
    if (of < this.oldest) return;
    const h = this.edit(of).holders;
    h.splice(h.indexOf(holder), 1);
  }

  private settle(d: Draft, firstKChanged: boolean): void {
    const kDistance = d.distances[this.k - 1] as number;
    if (firstKChanged) this.changed.push(d.seq);
    if (kDistance !== d.kDistance) this.moved.push(d.seq);
    d.kDistance = kDistance;
  }

  /**
   * Recomputes the densities that can have changed (a new neighbourhood, or a neighbour whose k-distance
   * moved: found through the moved points' holders), then writes every draft back.
   */
  commit(): void {
    const stale = new Set(this.changed);
    for (const m of new Set(this.moved)) {
      for (const h of this.get(m).holders) {
        const at = this.get(h).neighbours.indexOf(m);
        if (at >= 0 && at < this.k) stale.add(h);
      }
    }
    for (const seq of stale) {
      const e = this.get(seq);
      const kd = new Array<number>(this.k);
      for (let j = 0; j < this.k; j++) kd[j] = this.get(e.neighbours[j] as number).kDistance;
      const lrd = localReachabilityDensity(e.distances, kd);
      if (lrd !== e.lrd) this.edit(seq).lrd = lrd;
    }
    for (const i of this.touched) {
      const d = this.drafts[i] as Draft;
      this.entries[i] = { seq: d.seq, point: d.point, neighbours: d.neighbours, distances: d.distances, kDistance: d.kDistance, lrd: d.lrd, holders: d.holders };
    }
  }
}

/** Refits every entry; used while the window is too small for k to stay fixed. */
function rebuilt(w: LofWindow): LofWindow {
  const size = windowSize(w);
  if (size === 0) return w;
  const k = effectiveNeighbours(w.nNeighbors, size);
  const drafts: Draft[] = w.entries.map((e) => {
    const { neighbours, distances } = nearestInWindow(w, e.point, k + w.spare, e.seq);
    return { seq: e.seq, point: e.point, neighbours, distances, kDistance: size > 1 ? (distances[k - 1] as number) : 0, lrd: 0, holders: [] };
  });
  for (const d of drafts) for (const n of d.neighbours) (drafts[n - w.oldest] as Draft).holders.push(d.seq);
  if (size > 1) {
    for (const d of drafts) {
      const kd = d.neighbours.slice(0, k).map((n) => (drafts[n - w.oldest] as Draft).kDistance);
      d.lrd = localReachabilityDensity(d.distances, kd);
    }
  }
  return { ...w, entries: drafts };
}

/** Removes the oldest point. */
export function evictOldest(window: LofWindow): LofWindow {
  if (windowSize(window) === 0) return window;
  const gone = window.entries[0] as Entry;
  const entries = window.entries.slice(1);
  const w: LofWindow = { ...window, entries, oldest: gone.seq + 1 };
  if (windowSize(w) - 1 <= w.nNeighbors) return rebuilt(w);

  const k = w.nNeighbors;
  const edit = new Edit(entries, w.oldest, k);
  for (const n of gone.neighbours) edit.dropHolder(n, gone.seq);
  for (const h of gone.holders) {
    if (edit.removeFrom(h, gone.seq) < k) {
      const { neighbours, distances } = nearestInWindow(w, edit.get(h).point, k + w.spare, h);
      edit.setList(h, neighbours, distances);
    }
  }
  edit.commit();
  return w;
}

/** Appends a point, first evicting the oldest when the window is full. */
export function insertPoint(window: LofWindow, point: Point): LofWindow {
  const before = windowSize(window) === window.capacity ? evictOldest(window) : window;
  const seq = before.next;
  const entries: Entry[] = [...before.entries, { seq, point, neighbours: [], distances: [], kDistance: 0, lrd: 0, holders: [] }];
  const w: LofWindow = { ...before, entries, next: seq + 1 };
  if (windowSize(w) - 1 <= w.nNeighbors) return rebuilt(w);

  const k = w.nNeighbors;
  const limit = k + w.spare;
  const edit = new Edit(entries, w.oldest, k);
  // The newcomer arrives last, so among equal distances it ranks last: it enters a list only when
  // strictly nearer than the list's last candidate (beyond that, the list stays the exact top L).
  for (let i = 0; i < entries.length - 1; i++) {
    const e = entries[i] as Entry;
    const d = euclidean(e.point, point);
    const last = e.distances.length - 1;
    if (d >= (e.distances[last] as number)) continue;
    let at = last;
    while (at > 0 && (e.distances[at - 1] as number) > d) at--;
    edit.insertInto(e.seq, at, seq, d, limit);
  }
  const own = nearestInWindow(w, point, limit, seq);
  edit.setList(seq, own.neighbours, own.distances);
  edit.commit();
  return w;
}

/**
 * Novelty-mode score of a point that is not in the window (scikit-learn's `score_samples`): the negative
 * LOF, about -1 for a typical point, far below for an outlier. Needs at least two points in the window.
 */
export function scoreAgainstWindow(w: LofWindow, point: Point): number {
  const size = windowSize(w);
  if (size < 2) throw new RangeError(`LOF scoring needs at least 2 points in the window, has ${size}`);
  const k = effectiveNeighbours(w.nNeighbors, size);
  const { neighbours, distances } = nearestInWindow(w, point, k, -1);
  const entries = neighbours.map((s) => entryOf(w, s));
  const lrdSelf = localReachabilityDensity(distances, entries.map((e) => e.kDistance));
  return negativeOutlierFactorOf(entries.map((e) => e.lrd), lrdSelf);
}

/** The window as a fitted model (indices relative to the oldest point), for comparison with `fitLof`. */
export function windowModel(w: LofWindow): Omit<LofModel, 'negativeOutlierFactor'> {
  const entries = w.entries;
  const k = effectiveNeighbours(w.nNeighbors, entries.length);
  return {
    k,
    points: entries.map((e) => e.point),
    neighbours: {
      indices: entries.map((e) => e.neighbours.slice(0, k).map((s) => s - w.oldest)),
      distances: entries.map((e) => e.distances.slice(0, k)),
    },
    kDistance: entries.map((e) => e.kDistance),
    lrd: entries.map((e) => e.lrd),
  };
}
