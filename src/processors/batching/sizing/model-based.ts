/**
 * Model-based batch sizing: with service time fitted as a + b·n over recent batches, aim for the
 * largest batch whose predicted completion (now + predicted service time, with headroom) still
 * meets the tightest deadline among its members. With no deadline pressure that is the max
 * batch; as the tightest deadline nears, the target shrinks so that urgent requests go in
 * smaller, faster batches. When the batch is being formed the members are known (most urgent
 * first) and the size is the longest prefix that all meet their deadlines; before that, the
 * tightest deadline in the queue gives a quick bound. The state is empty: everything it needs is
 * the batcher's estimate.
 */
import { predictServiceMs } from '../service-time.js';
import type { SizingPolicy } from './sizing-policy.js';

export function modelBasedSizing(): SizingPolicy<null> {
  return {
    kind: 'model-based',
    initialState: () => null,
    observe: (state) => state,
    target(_state, context) {
      const fitsBy = (n: number, deadlineMs: number): boolean =>
        context.nowMs + predictServiceMs(context.estimate, n) * context.headroom <= deadlineMs;
      const candidates = context.candidateDeadlinesMs;
      if (candidates !== undefined) {
        // The running minimum deadline only falls and the service time only grows with n, so
        // the first prefix that misses ends the search.
        let tightest = Infinity;
        let size = 0;
        for (let n = 1; n <= Math.min(candidates.length, context.maxBatch); n++) {
          tightest = Math.min(tightest, candidates[n - 1]!);
          if (!fitsBy(n, tightest)) break;
          size = n;
        }
        return Math.max(1, size);
      }
      const slackMs = context.tightestDeadlineMs - context.nowMs;
      if (!Number.isFinite(slackMs)) return context.maxBatch;
      const fits = (n: number): boolean => fitsBy(n, context.tightestDeadlineMs);
      if (!fits(1)) return 1;
      // Service time grows with n, so the sizes that fit are a prefix: binary search its end.
      let lo = 1;
      let hi = context.maxBatch;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (fits(mid)) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    },
  };
}
