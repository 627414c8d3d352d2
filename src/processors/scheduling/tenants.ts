import { SLO_CLASSES } from '../../domain/events/request.js';
import { ConfigError } from '../../domain/errors.js';

/** Rank of an SLO class, 0 most urgent; an unknown class ranks after every known one. */
export function classRank(sloClass: string): number {
  const rank = (SLO_CLASSES as readonly string[]).indexOf(sloClass);
  return rank === -1 ? SLO_CLASSES.length : rank;
}

/** What a tenant is entitled to. */
export interface TenantPolicy {
  /** Share of the cluster under saturation, relative to the other tenants' weights. */
  weight: number;
  /** Requests admitted and not yet finished, at most (quota). */
  maxOutstanding: number;
  /** Token bucket: sustained requests per second and the burst above it. */
  ratePerSec: number;
  burst: number;
}

/** Per-tenant policies with a default for tenants not named. */
export interface TenantTable {
  defaults: TenantPolicy;
  tenants: Readonly<Record<string, TenantPolicy>>;
}

export const UNLIMITED_TENANT: TenantPolicy = { weight: 1, maxOutstanding: Infinity, ratePerSec: Infinity, burst: Infinity };

export function tenantPolicy(table: TenantTable, tenant: string): TenantPolicy {
  return table.tenants[tenant] ?? table.defaults;
}

/** Builds a table, refusing weights, quotas or rates that cannot work. */
export function tenantTable(tenants: Record<string, Partial<TenantPolicy>> = {}, defaults: Partial<TenantPolicy> = {}): TenantTable {
  const base = check('default', { ...UNLIMITED_TENANT, ...defaults });
  const named: Record<string, TenantPolicy> = {};
  for (const name of Object.keys(tenants).sort()) named[name] = check(name, { ...base, ...tenants[name] });
  return { defaults: base, tenants: named };
}

function check(name: string, policy: TenantPolicy): TenantPolicy {
  if (!(policy.weight > 0) || !Number.isFinite(policy.weight)) throw new ConfigError(`tenant ${name}: weight must be a positive number, got ${policy.weight}`);
  if (!(policy.maxOutstanding >= 0)) throw new ConfigError(`tenant ${name}: maxOutstanding must be >= 0, got ${policy.maxOutstanding}`);
  if (!(policy.ratePerSec > 0)) throw new ConfigError(`tenant ${name}: ratePerSec must be > 0, got ${policy.ratePerSec}`);
  if (!(policy.burst >= 1)) throw new ConfigError(`tenant ${name}: burst must be >= 1, got ${policy.burst}`);
  return policy;
}
