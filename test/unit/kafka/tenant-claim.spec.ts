/**
 * Signed tenant claims: a request signed with its tenant's key holds; any other key, any change to
 * the signed fields, a missing or malformed signature, or a tenant without a key does not, each
 * with its reason. Property-tested over random claims and keys.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { parseTenantKeys, readTenantKey, readTenantKeys, signTenantClaim, TENANT_MAC_HEADER, tenantClaimProblem, tenantSignatureOf, type TenantClaim } from '../../../src/kafka/tenant-claim.js';

const claimArb = fc.record({
  tenant: fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
  requestId: fc.string({ minLength: 1, maxLength: 40 }),
  model: fc.string({ minLength: 1, maxLength: 30 }),
  submittedAtMs: fc.integer({ min: 0, max: 2 ** 45 }),
});
const keyArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b));

describe('tenant claims', () => {
  it('holds when signed with the tenant key, and not with any other key', () => {
    fc.assert(
      fc.property(claimArb, keyArb, keyArb, (claim, key, other) => {
        const signature = signTenantClaim(key, claim);
        expect(signature).toMatch(/^[0-9a-f]{64}$/);
        expect(tenantClaimProblem(claim, signature, [key])).toBeNull();
        if (!key.equals(other)) expect(tenantClaimProblem(claim, signature, [other])).toBe(`request is not signed with tenant '${claim.tenant}'s key`);
        // During a rotation the file holds both: a signature by either holds.
        expect(tenantClaimProblem(claim, signature, [other, key])).toBeNull();
        expect(tenantClaimProblem(claim, signature, [key, other])).toBeNull();
      }),
    );
  });

  it('does not hold once any signed field changes', () => {
    fc.assert(
      fc.property(claimArb, keyArb, fc.constantFrom<keyof TenantClaim>('tenant', 'requestId', 'model', 'submittedAtMs'), (claim, key, field) => {
        const signature = signTenantClaim(key, claim);
        const changed = { ...claim, [field]: field === 'submittedAtMs' ? claim.submittedAtMs + 1 : `${String(claim[field])}x` };
        expect(tenantClaimProblem(changed, signature, [key])).not.toBeNull();
      }),
    );
  });

  it('says why: no key for the tenant, no signature, a malformed one', () => {
    const claim: TenantClaim = { tenant: 'acme', requestId: 'r1', model: 'm', submittedAtMs: 1 };
    const key = randomBytes(32);
    expect(tenantClaimProblem(claim, signTenantClaim(key, claim), undefined)).toBe("tenant 'acme' has no signing key here: its requests cannot be checked");
    expect(tenantClaimProblem(claim, signTenantClaim(key, claim), [])).toBe("tenant 'acme' has no signing key here: its requests cannot be checked");
    expect(tenantClaimProblem(claim, undefined, [key])).toBe(`request for tenant 'acme' is not signed (header ${TENANT_MAC_HEADER})`);
    expect(tenantClaimProblem(claim, '', [key])).toBe(`request for tenant 'acme' is not signed (header ${TENANT_MAC_HEADER})`);
    for (const bad of ['zz', 'abc', signTenantClaim(key, claim).slice(2), `${signTenantClaim(key, claim)}00`]) {
      expect(tenantClaimProblem(claim, bad, [key])).toBe("request is not signed with tenant 'acme's key");
    }
  });

  it('reads the signature from a header as a string, a Buffer or the first of several', () => {
    expect(tenantSignatureOf({})).toBeUndefined();
    expect(tenantSignatureOf({ [TENANT_MAC_HEADER]: 'ab' })).toBe('ab');
    expect(tenantSignatureOf({ [TENANT_MAC_HEADER]: Buffer.from('cd') })).toBe('cd');
    expect(tenantSignatureOf({ [TENANT_MAC_HEADER]: [Buffer.from('ef'), 'gh'] })).toBe('ef');
  });

  it('reads a key file: 64 hex digits a line, the first the one to sign with, else a one-line ConfigError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpuflow-tenant-key-'));
    try {
      const [key, previous] = [randomBytes(32), randomBytes(32)];
      writeFileSync(join(dir, 'good.key'), `${key.toString('hex').toUpperCase()}\n\n ${previous.toString('hex')}\n`);
      expect(readTenantKey(join(dir, 'good.key')).equals(key)).toBe(true);
      expect(readTenantKeys(join(dir, 'good.key')).map((k) => k.toString('hex'))).toEqual([key.toString('hex'), previous.toString('hex')]);
      writeFileSync(join(dir, 'short.key'), 'abcd\n');
      expect(() => readTenantKey(join(dir, 'short.key'))).toThrow(ConfigError);
      expect(() => readTenantKey(join(dir, 'short.key'))).toThrow(`${join(dir, 'short.key')} does not hold tenant keys (64 hex digits a line)`);
      writeFileSync(join(dir, 'mixed.key'), `${key.toString('hex')}\nanything after\n`);
      expect(() => readTenantKeys(join(dir, 'mixed.key'))).toThrow('does not hold tenant keys');
      expect(() => readTenantKey(join(dir, 'missing.key'))).toThrow(/^cannot read the tenant key file .*missing\.key: ENOENT/);
      expect(() => parseTenantKeys('', 'x')).toThrow('x does not hold tenant keys');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
