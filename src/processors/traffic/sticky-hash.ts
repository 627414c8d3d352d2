/**
 * A stable hash of a request key onto 10 000 buckets (FNV-1a, 32 bits, over the key's UTF-16 code
 * units). The same key lands in the same bucket in every process and every replay, so a key that
 * went to the canary once goes there again: routing is sticky without any shared state.
 */

/** Buckets a key can fall into: a weight of 0.01 % is one bucket. */
export const TRAFFIC_BUCKETS = 10_000;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a of `key`, an unsigned 32-bit integer. */
export function fnv1a32(key: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  return hash >>> 0;
}

/** The bucket of a key, 0 to TRAFFIC_BUCKETS - 1. */
export function bucketOf(key: string): number {
  return fnv1a32(key) % TRAFFIC_BUCKETS;
}
