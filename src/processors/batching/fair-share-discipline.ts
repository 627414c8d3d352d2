/**
 * Tenant weighted fair share as the batcher's queue discipline: the scheduler's deficit round
 * robin (src/processors/scheduling/fair-share.ts) decides which queued requests go into each
 * batch, so that under saturation each tenant's share of a class follows its weight. SLO classes
 * still go strictly by urgency, earliest deadline first inside a tenant; there is no aging (the
 * round robin itself keeps every tenant moving).
 *
 * The round robin's state advances only when a batch is formed (`charge` replays the same pick
 * on the queue the batch was drawn from), so choosing without forming changes nothing and a
 * replay of the batcher's events rebuilds the same state. Each pick walks the whole queue (O(n)),
 * as the round robin needs every tenant's head.
 */
import { INITIAL_FAIR_SHARE, weightedFairShare, type FairShareState } from '../scheduling/fair-share.js';
import type { TenantTable } from '../scheduling/tenants.js';
import type { QueueDiscipline } from './queue-discipline.js';
import type { QueuedRequest } from './queued-request.js';

interface Entry {
  readonly requestId: string;
  readonly tenant: string;
  readonly sloClass: string;
  readonly deadlineMs: number;
  readonly submittedAtMs: number;
  readonly queued: QueuedRequest;
}

const entry = (queued: QueuedRequest): Entry => ({
  requestId: queued.request.requestId,
  tenant: queued.request.tenant,
  sloClass: queued.request.sloClass,
  deadlineMs: queued.request.deadlineMs,
  submittedAtMs: queued.arrivedAtMs,
  queued,
});

export function tenantFairShare(tenants: TenantTable): QueueDiscipline<FairShareState> {
  const pick = weightedFairShare(tenants);
  return {
    name: 'tenant-weighted-fair-share',
    initialState: () => INITIAL_FAIR_SHARE,
    select: (state, queued, count) => pick(state, [...queued].map(entry), count).picked.map((e) => e.queued),
    charge: (state, members, queued) => pick(state, [...queued].map(entry), members.length).state,
  };
}
