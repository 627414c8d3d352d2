import type { BatchMemberRef } from './records.js';
import type { RequestTable } from './view.js';

/**
 * Which batch (pending or in flight) holds each request, for the one rule that needs it: a
 * rejected request leaves its batch. Most batches are placed and completed without any of
 * their requests being rejected, so the index is built when first asked, not per batch: a
 * batch entering the queue is one map entry until a lookup indexes it, and a batch that
 * leaves before any lookup was never indexed at all.
 *
 * Most lookups find nothing: admission rejects members of an arriving batch, which is in no
 * batch yet. So an indexed batch keeps its members' hashes, and a counting filter over all of
 * them (two counters per request) answers "in no batch" from two array reads; only a request
 * the filter lets through (a held one, or about one in a hundred others) is looked for among
 * the indexed batches' hashes, the batch found last first (rejections come batch by batch).
 * Indexing a batch and letting it go cost a hash per member and no map entry per member,
 * which is what a fold of a busy cluster with frequent rejections spent most of its time on.
 *
 * Request ids are unique across the batches the scheduler holds (the batcher draws each
 * request once); the answers are those of a plain request → batch map under that rule.
 */
export class RequestIndex implements RequestTable {
  /** Batches held and not yet indexed, with their members as held. */
  private readonly waiting = new Map<string, readonly BatchMemberRef[]>();
  private readonly indexed = new Map<string, IndexedBatch>();
  private indexedMembers = 0;
  /** Counting filter: two counters per indexed member, at positions from its hash. */
  private filter = new Uint32Array(MIN_FILTER);
  private mask = MIN_FILTER - 1;
  private last: IndexedBatch | null = null;

  batchOf(requestId: string): string | undefined {
    return this.find(requestId)?.batchId;
  }

  hold(batchId: string, members: readonly BatchMemberRef[]): void {
    this.waiting.set(batchId, members);
  }

  release(batchId: string): void {
    if (this.waiting.delete(batchId)) return;
    const batch = this.indexed.get(batchId);
    if (batch === undefined) return;
    this.indexed.delete(batchId);
    for (const hash of batch.hashes) this.count(hash, -1);
    this.indexedMembers -= batch.hashes.length;
    if (this.last === batch) this.last = null;
  }

  drop(requestId: string): void {
    const batch = this.find(requestId);
    if (batch === undefined) return;
    const at = batch.members.findIndex((m) => m.requestId === requestId);
    this.count(batch.hashes[at] as number, -1);
    this.indexedMembers -= 1;
    const hashes = batch.hashes.filter((_, i) => i !== at);
    const members = batch.members.filter((_, i) => i !== at);
    const kept: IndexedBatch = { batchId: batch.batchId, members, hashes };
    this.indexed.set(batch.batchId, kept);
    if (this.last === batch) this.last = kept;
  }

  private find(requestId: string): IndexedBatch | undefined {
    this.catchUp();
    const hash = hashOf(requestId);
    if (this.filter[hash & this.mask] === 0 || this.filter[second(hash) & this.mask] === 0) return undefined;
    if (this.last !== null && holds(this.last, requestId, hash)) return this.last;
    for (const batch of this.indexed.values()) {
      if (holds(batch, requestId, hash)) {
        this.last = batch;
        return batch;
      }
    }
    return undefined;
  }

  private catchUp(): void {
    if (this.waiting.size === 0) return;
    for (const [batchId, members] of this.waiting) {
      const hashes: number[] = [];
      for (const m of members) hashes.push(hashOf(m.requestId));
      this.indexed.set(batchId, { batchId, members, hashes });
      this.indexedMembers += members.length;
      for (const hash of hashes) this.count(hash, 1);
      if (this.indexedMembers * LOAD > this.filter.length && this.filter.length < MAX_FILTER) this.grow();
    }
    this.waiting.clear();
  }

  private count(hash: number, by: 1 | -1): void {
    (this.filter[hash & this.mask] as number) += by;
    (this.filter[second(hash) & this.mask] as number) += by;
  }

  /** A larger filter, refilled from the indexed batches' hashes. */
  private grow(): void {
    let size = this.filter.length;
    while (this.indexedMembers * LOAD > size && size < MAX_FILTER) size *= 2;
    this.filter = new Uint32Array(size);
    this.mask = size - 1;
    for (const batch of this.indexed.values()) for (const hash of batch.hashes) this.count(hash, 1);
  }
}

interface IndexedBatch {
  batchId: string;
  members: readonly BatchMemberRef[];
  /** hashOf each member's request id, in member order. */
  hashes: number[];
}

/** Counters per indexed member, at least: about one lookup in a hundred passes the filter wrongly. */
const LOAD = 16;
const MIN_FILTER = 1 << 16;
/** Beyond this (a million requests held), the filter passes more lookups to the scan instead. */
const MAX_FILTER = 1 << 24;

function holds(batch: IndexedBatch, requestId: string, hash: number): boolean {
  const hashes = batch.hashes;
  for (let i = 0; i < hashes.length; i++) if (hashes[i] === hash && (batch.members[i] as BatchMemberRef).requestId === requestId) return true;
  return false;
}

/**
 * FNV-1a over the id's UTF-16 code units, cut to 30 bits so that a list of hashes stays a
 * list of small integers.
 */
function hashOf(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

/** A second filter position from the same hash. */
function second(hash: number): number {
  return Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d) >>> 7;
}
