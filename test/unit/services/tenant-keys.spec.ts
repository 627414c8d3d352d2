/**
 * The dispatcher's tenant keys: read from DIR/TENANT.key when a tenant is first seen, a missing
 * one looked for again only after the recheck interval (so a tenant added later is served), a
 * malformed one logged and treated as missing, and a folder that is not there refused at the start.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { signTenantClaim, TENANT_MAC_HEADER } from '../../../src/kafka/tenant-claim.js';
import { createLogger } from '../../../src/log.js';
import { TenantKeys } from '../../../src/services/tenant-keys.js';
import { tempDirs } from '../../helpers/temp-dirs.js';

const keysDir = tempDirs('gpuflow-tenant-keys-');

describe('TenantKeys', () => {
  it("checks a request against its tenant's key file", () => {
    const dir = keysDir();
    const acme = randomBytes(32);
    const globex = randomBytes(32);
    writeFileSync(join(dir, 'acme.key'), acme.toString('hex'));
    writeFileSync(join(dir, 'globex.key'), globex.toString('hex'));
    const keys = new TenantKeys(dir, createLogger({}, 'error'));
    const claim = { tenant: 'acme', requestId: 'r1', model: 'm', submittedAtMs: 5 };
    expect(keys.problem(claim, { [TENANT_MAC_HEADER]: signTenantClaim(acme, claim) })).toBeNull();
    // globex signing a request that names acme: the claim does not hold.
    expect(keys.problem(claim, { [TENANT_MAC_HEADER]: Buffer.from(signTenantClaim(globex, claim)) })).toBe("request is not signed with tenant 'acme's key");
    expect(keys.problem(claim, {})).toBe(`request for tenant 'acme' is not signed (header ${TENANT_MAC_HEADER})`);
  });

  it('looks for a missing key again only after the recheck interval', () => {
    const dir = keysDir();
    let now = 0;
    const keys = new TenantKeys(dir, createLogger({}, 'error'), () => now, 10_000);
    const claim = { tenant: 'late', requestId: 'r', model: 'm', submittedAtMs: 0 };
    const key = randomBytes(32);
    const headers = { [TENANT_MAC_HEADER]: signTenantClaim(key, claim) };
    expect(keys.problem(claim, headers)).toBe("tenant 'late' has no signing key here: its requests cannot be checked");
    writeFileSync(join(dir, 'late.key'), key.toString('hex'));
    now = 9_999;
    expect(keys.problem(claim, headers)).toMatch(/has no signing key here/);
    now = 10_000;
    expect(keys.problem(claim, headers)).toBeNull();
  });

  it('treats a malformed key file as no key, and logs it', () => {
    const dir = keysDir();
    writeFileSync(join(dir, 'bad.key'), 'not a key\n');
    const lines: string[] = [];
    const keys = new TenantKeys(dir, createLogger({}, 'warn', (line) => lines.push(line)));
    expect(keys.problem({ tenant: 'bad', requestId: 'r', model: 'm', submittedAtMs: 0 }, {})).toMatch(/has no signing key here/);
    expect(lines.some((l) => l.includes('dispatcher.tenant_key_unreadable') && l.includes('does not hold tenant keys'))).toBe(true);
  });

  it('takes a rotated key, a dropped one and a removed file into account at the next recheck', () => {
    const dir = keysDir();
    const file = join(dir, 'acme.key');
    let now = 0;
    const lines: string[] = [];
    const keys = new TenantKeys(dir, createLogger({}, 'info', (line) => lines.push(line)), () => now, 10_000);
    const claim = { tenant: 'acme', requestId: 'r', model: 'm', submittedAtMs: 0 };
    const [old, fresh] = [randomBytes(32), randomBytes(32)];
    const signedBy = (key: Buffer) => ({ [TENANT_MAC_HEADER]: signTenantClaim(key, claim) });
    writeFileSync(file, `${old.toString('hex')}\n`);
    expect(keys.problem(claim, signedBy(old))).toBeNull();

    // Unchanged at the recheck: not read again.
    now = 10_000;
    expect(keys.problem(claim, signedBy(old))).toBeNull();
    expect(lines.filter((l) => l.includes('dispatcher.tenant_keys_changed'))).toHaveLength(0);

    // Rotated: the new key first, the old one kept below it. Both hold once the file is looked at again.
    writeFileSync(file, `${fresh.toString('hex')}\n${old.toString('hex')}\n`);
    now = 15_000;
    expect(keys.problem(claim, signedBy(fresh))).toMatch(/is not signed with tenant 'acme's key/);
    now = 20_000;
    expect(keys.problem(claim, signedBy(fresh))).toBeNull();
    expect(keys.problem(claim, signedBy(old))).toBeNull();

    // The old key dropped: only the new one holds.
    writeFileSync(file, `${fresh.toString('hex')}\n`);
    now = 30_000;
    expect(keys.problem(claim, signedBy(old))).toMatch(/is not signed with tenant 'acme's key/);
    expect(keys.problem(claim, signedBy(fresh))).toBeNull();

    // The file removed: the tenant has no key.
    rmSync(file);
    now = 40_000;
    expect(keys.problem(claim, signedBy(fresh))).toMatch(/has no signing key here/);
    expect(lines.filter((l) => l.includes('dispatcher.tenant_keys_changed')).map((l) => (JSON.parse(l) as { keys: number }).keys)).toEqual([2, 1, 0]);
  });

  it('refuses a keys folder that does not exist', () => {
    expect(() => new TenantKeys(join(keysDir(), 'nope'), createLogger({}, 'error'))).toThrow(ConfigError);
  });
});
