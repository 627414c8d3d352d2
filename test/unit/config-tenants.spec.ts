/**
 * Per-tenant results: GPUFLOW_TENANT_RESULT_TOPICS and GPUFLOW_TENANT parse strictly, and the
 * configured tenant decides where results are read: its own topic in a group its ACLs allow.
 */
import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resultsReading } from '../../src/client/results-reading.js';
import { loadConfig, TENANT_NAME } from '../../src/config.js';
import { ConfigError } from '../../src/domain/errors.js';
import { tenantAcls, tenantGroupPrefix, tenantResultsTopic } from '../../src/stack/kafka-tenants.js';

const tenantName = fc.stringMatching(TENANT_NAME);

describe('GPUFLOW_TENANT_RESULT_TOPICS', () => {
  it('is off unless set, so a single machine keeps the shared results topic', () => {
    expect(loadConfig({}).tenantResultTopics).toBe(false);
    expect(loadConfig({ GPUFLOW_TENANT_RESULT_TOPICS: '' }).tenantResultTopics).toBe(false);
  });

  it("reads 'true' and 'false' in any case", () => {
    expect(loadConfig({ GPUFLOW_TENANT_RESULT_TOPICS: 'true' }).tenantResultTopics).toBe(true);
    expect(loadConfig({ GPUFLOW_TENANT_RESULT_TOPICS: 'TRUE' }).tenantResultTopics).toBe(true);
    expect(loadConfig({ GPUFLOW_TENANT_RESULT_TOPICS: 'False' }).tenantResultTopics).toBe(false);
  });

  it('refuses anything else with a ConfigError naming the variable', () => {
    for (const raw of ['1', 'yes', 'on', 'tru']) {
      expect(() => loadConfig({ GPUFLOW_TENANT_RESULT_TOPICS: raw })).toThrow(ConfigError);
      expect(() => loadConfig({ GPUFLOW_TENANT_RESULT_TOPICS: raw })).toThrow(`GPUFLOW_TENANT_RESULT_TOPICS must be 'true' or 'false', got '${raw}'`);
    }
  });
});

describe('GPUFLOW_TENANT', () => {
  it('is none unless set', () => {
    expect(loadConfig({}).tenant).toBeNull();
    expect(loadConfig({ GPUFLOW_TENANT: '' }).tenant).toBeNull();
  });

  it('takes every name a tenant can be provisioned with', () => {
    fc.assert(fc.property(tenantName, (name) => loadConfig({ GPUFLOW_TENANT: name }).tenant === name));
  });

  it("refuses names whose topic or group prefix could cover another tenant's: dots, upper case, leading '-'", () => {
    for (const raw of ['acme.eu', 'Acme', '-acme', 'a b', 'a'.repeat(64)]) expect(() => loadConfig({ GPUFLOW_TENANT: raw })).toThrow(/GPUFLOW_TENANT must match/);
    fc.assert(fc.property(tenantName, tenantName, (a, b) => !TENANT_NAME.test(`${a}.${b}`)));
  });
});

describe('where results are read', () => {
  it('without a tenant: the shared topic, in a gpuflow group', () => {
    const reading = resultsReading(null, 'client');
    expect(reading.topic).toBe('inference.results');
    expect(reading.groupId).toMatch(/^gpuflow-client-[0-9a-f-]{36}$/);
    expect(resultsReading(null, 'tail', 'replies-x').topic).toBe('replies-x');
  });

  it("with a tenant: its own topic, in a fresh group under its prefix that no other tenant's ACL covers", () => {
    fc.assert(
      fc.property(tenantName, tenantName, (tenant, other) => {
        const reading = resultsReading(loadConfig({ GPUFLOW_TENANT: tenant }).tenant, 'client');
        const granted = tenantAcls(tenant);
        // The tenant's ACLs allow exactly this topic and this group.
        expect(reading.topic).toBe(tenantResultsTopic(tenant));
        expect(granted).toContainEqual({ resourceType: 'topic', resourceName: reading.topic, pattern: 'literal', operation: 'read' });
        expect(reading.groupId.startsWith(tenantGroupPrefix(tenant))).toBe(true);
        // Another tenant's prefixed group ACL does not cover it, nor its literal topic ACL.
        if (other !== tenant) {
          expect(reading.groupId.startsWith(tenantGroupPrefix(other))).toBe(false);
          expect(tenantAcls(other).some((acl) => acl.resourceName === reading.topic)).toBe(false);
        }
      }),
    );
    expect(resultsReading('acme', 'tail').groupId).not.toBe(resultsReading('acme', 'tail').groupId);
  });
});

describe('GPUFLOW_TENANT_KEYS_DIR and GPUFLOW_TENANT_KEY_FILE', () => {
  it('are off unless set, and resolve to absolute paths', () => {
    expect(loadConfig({}).tenantKeysDir).toBeNull();
    expect(loadConfig({}).tenantKeyFile).toBeNull();
    expect(loadConfig({ GPUFLOW_TENANT_KEYS_DIR: '' }).tenantKeysDir).toBeNull();
    expect(loadConfig({ GPUFLOW_TENANT_KEYS_DIR: 'keys' }).tenantKeysDir).toBe(resolve('keys'));
    expect(loadConfig({ GPUFLOW_TENANT_KEY_FILE: '/etc/acme.key' }).tenantKeyFile).toBe('/etc/acme.key');
  });
});
