/**
 * The tenants' signing keys a dispatcher checks requests against: one file per tenant,
 * `DIR/TENANT.key` (what `gpuflow stack tenant add` writes), read when the tenant is first seen.
 * Each tenant's file is looked at again at most every `recheckMs` and read again when it changed,
 * so a tenant added, a key rotated (`stack tenant rotate-key`) or a file removed takes effect
 * without a restart, within that interval.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, describeError } from '../domain/errors.js';
import { readTenantKeys, tenantClaimProblem, tenantSignatureOf, type TenantClaim } from '../kafka/tenant-claim.js';
import type { Logger } from '../log.js';
import type { MessageHeaders } from '../tracing/kafka-headers.js';

interface Known {
  keys: Buffer[] | undefined;
  checkedAtMs: number;
  /** The file's identity and version when it was read ('' when there was none). */
  stamp: string;
}

export class TenantKeys {
  private readonly known = new Map<string, Known>();

  constructor(
    readonly dir: string,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly recheckMs = 10_000,
  ) {
    // A folder that is not there would turn every request away: say so at the start instead.
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new ConfigError(`tenant keys folder ${dir} is not a directory`);
  }

  /** Why the request's tenant claim does not hold, or null when it is signed with one of the tenant's keys. */
  problem(claim: TenantClaim, headers: MessageHeaders): string | null {
    return tenantClaimProblem(claim, tenantSignatureOf(headers), this.keysOf(claim.tenant));
  }

  /** Only names that passed the request's tenant-name check reach here: no path separator in them. */
  private keysOf(tenant: string): Buffer[] | undefined {
    const now = this.now();
    const known = this.known.get(tenant);
    if (known !== undefined && now - known.checkedAtMs < this.recheckMs) return known.keys;
    const file = join(this.dir, `${tenant}.key`);
    const stat = statSync(file, { throwIfNoEntry: false });
    // A rename over the file (an atomic replace) changes the inode; an edit in place, the time or size.
    const stamp = stat === undefined ? '' : `${stat.ino}:${stat.mtimeMs}:${stat.size}`;
    if (known !== undefined && stamp === known.stamp) {
      known.checkedAtMs = now;
      return known.keys;
    }
    let keys: Buffer[] | undefined;
    if (stat !== undefined) {
      try {
        keys = readTenantKeys(file);
      } catch (error) {
        this.logger.warn('dispatcher.tenant_key_unreadable', { tenant, file, error: describeError(error) });
      }
    }
    if (known !== undefined) this.logger.info('dispatcher.tenant_keys_changed', { tenant, file, keys: keys?.length ?? 0 });
    this.known.set(tenant, { keys, checkedAtMs: now, stamp });
    return keys;
  }
}
