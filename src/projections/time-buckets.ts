/**
 * Event-time buckets for rates in a read model: counts per bucket of `bucketMs`, keeping the
 * `keep` newest buckets relative to the newest ever seen. An event older than that is dropped,
 * one newer moves the horizon and drops what falls behind it. The result depends only on which
 * events were applied, not on their order (the retained buckets are those within `keep` of the
 * overall newest, each with all of its events), so a rebuild equals the live state.
 */

/** Bucket start (epoch ms, as a decimal string, in time order) → summed values. */
export type Buckets = Readonly<Record<string, readonly number[]>>;

export interface BucketSpec {
  bucketMs: number;
  keep: number;
}

const bucketOf = (timeMs: number, spec: BucketSpec): number => Math.floor(timeMs / spec.bucketMs) * spec.bucketMs;

/** Adds `values` to the bucket of `timeMs`; the same object when the event is older than the kept buckets. */
export function addToBuckets(buckets: Buckets, timeMs: number, values: readonly number[], spec: BucketSpec): Buckets {
  const at = bucketOf(timeMs, spec);
  const newest = Math.max(at, ...Object.keys(buckets).map(Number));
  const horizon = newest - spec.keep * spec.bucketMs;
  if (at <= horizon) return buckets;
  const kept = new Map<number, readonly number[]>();
  for (const [key, sums] of Object.entries(buckets)) if (Number(key) > horizon) kept.set(Number(key), sums);
  const current = kept.get(at) ?? values.map(() => 0);
  kept.set(at, current.map((v, i) => v + (values[i] ?? 0)));
  // Keys in time order: epoch milliseconds are beyond the integer keys JSON would order by itself.
  return Object.fromEntries([...kept].sort(([a], [b]) => a - b).map(([key, sums]) => [String(key), sums]));
}

/** Summed values of the buckets that start within (nowMs - windowMs, nowMs], and the time they cover (ms, ≥ one bucket). */
export function sumSince(buckets: Buckets, nowMs: number, windowMs: number, spec: BucketSpec, width: number): { sums: number[]; spanMs: number } {
  const sums = Array.from({ length: width }, () => 0);
  let oldest = Infinity;
  for (const [key, values] of Object.entries(buckets)) {
    const start = Number(key);
    if (start > nowMs) continue;
    oldest = Math.min(oldest, start);
    if (start > nowMs - windowMs) values.forEach((v, i) => (sums[i] = (sums[i] ?? 0) + v));
  }
  // Traffic that began inside the window is measured over the time since it began, not the whole window.
  const spanMs = oldest === Infinity ? windowMs : Math.max(spec.bucketMs, Math.min(windowMs, nowMs - oldest));
  return { sums, spanMs };
}
