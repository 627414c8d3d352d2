import { SLO_CLASSES } from '../../domain/events/request.js';
import { classRank, tenantPolicy, type TenantTable } from './tenants.js';

/** What the discipline needs to know of a queued request. */
export interface QueuedRequest {
  requestId: string;
  tenant: string;
  sloClass: string;
  deadlineMs: number;
  submittedAtMs: number;
}

/** Deficit round robin state of one SLO class. */
export interface ClassRound {
  /** Credit left per tenant with requests waiting, in requests. */
  deficits: Record<string, number>;
  /** The tenant whose turn it is, and whether it has had its quantum this turn. */
  cursor: string | null;
  credited: boolean;
}

/** Carried from one draw to the next so that shares hold across batches. Plain data. */
export interface FairShareState {
  classes: Record<string, ClassRound>;
}

export const INITIAL_FAIR_SHARE: FairShareState = { classes: {} };

/**
 * A queue discipline: from the requests waiting, which `count` go next, in order. The batcher
 * calls it each time it draws requests into a batch; it returns the picked requests (the
 * caller's own objects) and the state for the next call.
 */
export type QueueDiscipline = <T extends QueuedRequest>(
  state: FairShareState,
  queue: readonly T[],
  count: number,
) => { picked: T[]; state: FairShareState };

/**
 * Weighted fair share between tenants: SLO classes strictly by urgency; inside a class,
 * deficit round robin over tenants (each turn a tenant earns its weight in requests), so under
 * saturation each tenant's share of the class follows its weight; inside a tenant, earliest
 * deadline first, then submission time, then id. When everything fits, everything is picked.
 */
export function weightedFairShare(tenants: TenantTable): QueueDiscipline {
  return <T extends QueuedRequest>(state: FairShareState, queue: readonly T[], count: number) => {
    const byClass = new Map<number, Map<string, T[]>>();
    for (const request of queue) {
      const rank = classRank(request.sloClass);
      let byTenant = byClass.get(rank);
      if (!byTenant) byClass.set(rank, (byTenant = new Map()));
      const list = byTenant.get(request.tenant);
      if (list) list.push(request);
      else byTenant.set(request.tenant, [request]);
    }
    const picked: T[] = [];
    const classes: Record<string, ClassRound> = { ...state.classes };
    for (const rank of [...byClass.keys()].sort((a, b) => a - b)) {
      if (picked.length >= count) break;
      const name = SLO_CLASSES[rank] ?? 'other';
      const byTenant = byClass.get(rank) as Map<string, T[]>;
      for (const list of byTenant.values()) list.sort(edf);
      classes[name] = roundRobin(classes[name], byTenant, count - picked.length, tenants, picked);
    }
    return { picked, state: { classes } };
  };
}

function edf(a: QueuedRequest, b: QueuedRequest): number {
  return a.deadlineMs - b.deadlineMs || a.submittedAtMs - b.submittedAtMs || (a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0);
}

/** Deficit round robin over the tenants of one class, picking at most `budget` requests. */
function roundRobin<T extends QueuedRequest>(
  round: ClassRound | undefined,
  byTenant: Map<string, T[]>,
  budget: number,
  tenants: TenantTable,
  picked: T[],
): ClassRound {
  const order = [...byTenant.keys()].sort();
  const deficits: Record<string, number> = {};
  for (const tenant of order) deficits[tenant] = round?.deficits[tenant] ?? 0;
  const heads = new Map<string, number>(order.map((t) => [t, 0]));
  let at = round?.cursor ? order.findIndex((t) => t >= (round.cursor as string)) : 0;
  if (at < 0) at = 0;
  let credited = round?.cursor != null && order[at] === round.cursor && round.credited;
  let active = order.length;
  let taken = 0;
  while (taken < budget && active > 0) {
    const tenant = order[at] as string;
    const list = byTenant.get(tenant) as T[];
    let head = heads.get(tenant) as number;
    if (head < list.length) {
      if (!credited) deficits[tenant] = (deficits[tenant] ?? 0) + tenantPolicy(tenants, tenant).weight;
      credited = true;
      while (head < list.length && (deficits[tenant] as number) >= 1 && taken < budget) {
        picked.push(list[head] as T);
        head += 1;
        taken += 1;
        deficits[tenant] = (deficits[tenant] as number) - 1;
      }
      heads.set(tenant, head);
      if (head >= list.length) {
        delete deficits[tenant];
        active -= 1;
      } else if (taken >= budget && (deficits[tenant] as number) >= 1) {
        return { deficits, cursor: tenant, credited: true };
      }
    }
    at = (at + 1) % order.length;
    credited = false;
  }
  return { deficits, cursor: order[at] ?? null, credited: false };
}
