import type { SchedulerConfig } from './config.js';
import type { BatchMemberRef } from './records.js';
import { estimateFor, predictUs } from './service-time.js';
import { tenantPolicy, type TenantTable } from './tenants.js';
import type { SchedulerView } from './view.js';

/**
 * Admission control: say no at once, with the reason, rather than queue work that cannot be
 * served. Three checks, cheapest to the client first: the deadline can be met by some
 * placement, the tenant is under its quota of outstanding requests, and its token bucket has
 * a token.
 */

/**
 * The earliest a batch of `size` for a model version could finish on any device: its predicted
 * service time from now, plus a cold load when no live worker has the model loaded. A lower
 * bound, since queues ahead of it only make it later.
 */
export function earliestCompletionMs(view: SchedulerView, config: SchedulerConfig, model: string, version: string, size: number, now: number): number {
  const serviceMs = predictUs(estimateFor(config, view, model, version), size) / 1000;
  return now + serviceMs + (view.modelLoaded(model) ? 0 : config.coldLoadMs);
}

/** Why a request cannot meet its deadline, or null when it can. */
export function deadlineMiss(member: Pick<BatchMemberRef, 'deadlineMs'>, earliestMs: number, now: number): string | null {
  if (member.deadlineMs >= earliestMs) return null;
  return `deadline cannot be met: earliest completion in ${Math.ceil(earliestMs - now)} ms, deadline in ${member.deadlineMs - now} ms`;
}

/** A token bucket: up to `burst` tokens, refilled at `ratePerSec`. */
export interface TokenBucket {
  tokens: number;
  updatedAtMs: number;
}

/** Per-tenant counters admission keeps. Plain data, sorted keys when serialised by the caller. */
export interface AdmissionState {
  buckets: Readonly<Record<string, TokenBucket>>;
  outstanding: Readonly<Record<string, number>>;
}

export const INITIAL_ADMISSION: AdmissionState = { buckets: {}, outstanding: {} };

export interface AdmissionRequest {
  tenant: string;
  deadlineMs: number;
}

export type AdmissionVerdict = { admitted: true } | { admitted: false; reason: string };

/**
 * Decides one request. `earliestMs` comes from `earliestCompletionMs` for a batch of one
 * (or the batcher's own prediction). An admitted request counts against its tenant's quota
 * until `finish` is called for it.
 */
export function admit(
  state: AdmissionState,
  request: AdmissionRequest,
  now: number,
  tenants: TenantTable,
  earliestMs: number,
): { verdict: AdmissionVerdict; state: AdmissionState } {
  const miss = deadlineMiss(request, earliestMs, now);
  if (miss) return { verdict: { admitted: false, reason: miss }, state };
  const policy = tenantPolicy(tenants, request.tenant);
  const outstanding = state.outstanding[request.tenant] ?? 0;
  if (outstanding >= policy.maxOutstanding) {
    return { verdict: { admitted: false, reason: `tenant ${request.tenant} over quota: ${outstanding} of ${policy.maxOutstanding} requests outstanding` }, state };
  }
  const bucket = refill(state.buckets[request.tenant], policy.ratePerSec, policy.burst, now);
  if (bucket.tokens < 1) {
    const waitMs = Math.ceil(((1 - bucket.tokens) / policy.ratePerSec) * 1000);
    return {
      verdict: { admitted: false, reason: `tenant ${request.tenant} rate limited: ${policy.ratePerSec}/s, next token in ${waitMs} ms` },
      state: { ...state, buckets: { ...state.buckets, [request.tenant]: bucket } },
    };
  }
  return {
    verdict: { admitted: true },
    state: {
      buckets: { ...state.buckets, [request.tenant]: { tokens: bucket.tokens - 1, updatedAtMs: now } },
      outstanding: { ...state.outstanding, [request.tenant]: outstanding + 1 },
    },
  };
}

/** A request of the tenant finished (result or rejection after admission): its quota frees. */
export function finish(state: AdmissionState, tenant: string): AdmissionState {
  const outstanding = state.outstanding[tenant] ?? 0;
  return { ...state, outstanding: { ...state.outstanding, [tenant]: Math.max(0, outstanding - 1) } };
}

function refill(bucket: TokenBucket | undefined, ratePerSec: number, burst: number, now: number): TokenBucket {
  if (!bucket) return { tokens: burst, updatedAtMs: now };
  if (ratePerSec === Infinity) return { tokens: burst, updatedAtMs: now };
  const elapsed = Math.max(0, now - bucket.updatedAtMs);
  return { tokens: Math.min(burst, bucket.tokens + (elapsed * ratePerSec) / 1000), updatedAtMs: Math.max(now, bucket.updatedAtMs) };
}
