import type { BatchMemberRef } from './records.js';
import type { RequestTable } from './view.js';

/**
 * Which batch (pending or in flight) holds each request, for the one rule that needs it: a
 * rejected request leaves its batch. Most batches are placed and completed without any of
 * their requests being rejected, so the index is built when first asked, not per batch: a
 * batch entering the queue is one map entry until a lookup indexes its members, and a batch
 * that leaves before any lookup was never indexed at all. That keeps the per-request work out
 * of every fact a busy cluster folds.
 *
 * Request ids are unique across the batches the scheduler holds (the batcher draws each
 * request once); the answers are those of a plain request → batch map under that rule.
 */
export class RequestIndex implements RequestTable {
  private readonly byRequest = new Map<string, string>();
  /** Batches held and not yet indexed, with their members as held. */
  private readonly waiting = new Map<string, readonly BatchMemberRef[]>();

  batchOf(requestId: string): string | undefined {
    this.catchUp();
    return this.byRequest.get(requestId);
  }

  hold(batchId: string, members: readonly BatchMemberRef[]): void {
    this.waiting.set(batchId, members);
  }

  release(batchId: string, members: readonly BatchMemberRef[]): void {
    if (this.waiting.delete(batchId)) return;
    for (const m of members) this.byRequest.delete(m.requestId);
  }

  drop(requestId: string): void {
    this.catchUp();
    this.byRequest.delete(requestId);
  }

  private catchUp(): void {
    if (this.waiting.size === 0) return;
    for (const [batchId, members] of this.waiting) for (const m of members) this.byRequest.set(m.requestId, batchId);
    this.waiting.clear();
  }
}
