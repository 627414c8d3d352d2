/** The distribution of formed batch sizes per model, and why each batch closed (`model/<model>`), from BatchFormed. */
import { NO_CHANGES, type Doc, type Projection } from './projection.js';

export interface BatchSizesDoc extends Doc {
  model: string;
  batches: number;
  requests: number;
  /** Batch size → how many batches had it. */
  sizes: Readonly<Record<string, number>>;
  /** BatchFormed reason → count. */
  reasons: Readonly<Record<string, number>>;
}

export const batchSizesProjection: Projection<BatchSizesDoc> = {
  name: 'batch-sizes',
  version: 1,
  canHandle: (e) => e.kind === 'decision' && e.value.type === 'BatchFormed',
  handle(state, e) {
    if (e.kind !== 'decision' || e.value.type !== 'BatchFormed') return NO_CHANGES;
    const b = e.value;
    const id = `model/${b.model}`;
    const doc = state.get(id) ?? { model: b.model, batches: 0, requests: 0, sizes: {}, reasons: {} };
    const size = String(b.requestIds.length);
    return {
      [id]: {
        ...doc,
        batches: doc.batches + 1,
        requests: doc.requests + b.requestIds.length,
        sizes: { ...doc.sizes, [size]: (doc.sizes[size] ?? 0) + 1 },
        // Keys sorted: the stored JSON must not depend on which reason came first.
        reasons: Object.fromEntries(Object.entries({ ...doc.reasons, [b.reason]: (doc.reasons[b.reason] ?? 0) + 1 }).sort(([x], [y]) => (x < y ? -1 : 1))),
      },
    };
  },
};
