/**
 * The tenants' signing keys a dispatcher checks requests against: one file per tenant,
 * `DIR/TENANT.key` (what `gpuflow stack tenant add` writes), read when the tenant is first seen.
 * A tenant without a usable file is looked for again after `recheckMs`, so a tenant added while
 * the dispatcher runs is served without a restart; a key replaced in place needs one.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, describeError } from '../domain/errors.js';
import { readTenantKey, tenantClaimProblem, tenantSignatureOf, type TenantClaim } from '../kafka/tenant-claim.js';
import type { Logger } from '../log.js';
import type { MessageHeaders } from '../tracing/kafka-headers.js';

interface Known {
  key: Buffer | undefined;
  readAtMs: number;
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

  /** Why the request's tenant claim does not hold, or null when it is signed with the tenant's key. */
  problem(claim: TenantClaim, headers: MessageHeaders): string | null {
    return tenantClaimProblem(claim, tenantSignatureOf(headers), this.keyOf(claim.tenant));
  }

  /** Only names that passed the request's tenant-name check reach here: no path separator in them. */
  private keyOf(tenant: string): Buffer | undefined {
    const now = this.now();
    const known = this.known.get(tenant);
    if (known !== undefined && (known.key !== undefined || now - known.readAtMs < this.recheckMs)) return known.key;
    const file = join(this.dir, `${tenant}.key`);
    let key: Buffer | undefined;
    try {
      key = readTenantKey(file);
    } catch (error) {
      const missing = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
      if (!missing) this.logger.warn('dispatcher.tenant_key_unreadable', { tenant, file, error: describeError(error) });
    }
    this.known.set(tenant, { key, readAtMs: now });
    return key;
  }
}
