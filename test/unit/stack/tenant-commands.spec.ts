/**
 * Rotating a tenant's signing key: a new key goes first, the previous one stays below it for the
 * dispatchers while clients move over, older ones go, and --drop-previous ends the rotation. The
 * CLI does it without a running stack, and a mistake in any `stack tenant` command is one line and
 * a non-zero exit, before anything is touched. (Adding and removing tenants on a secured broker:
 * test/int/security.spec.ts.)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { readTenantKeys } from '../../../src/kafka/tenant-claim.js';
import { ensureTenantKey, rotateTenantKey, tenantKeyFile } from '../../../src/stack/kafka-tenants.js';
import { tempDirs } from '../../helpers/temp-dirs.js';

const home = tempDirs('gpuflow-rotate-');
const hexKeys = (file: string): string[] => readTenantKeys(file).map((k) => k.toString('hex'));

describe('tenant key rotation', () => {
  it('puts a new key first, keeps the previous one only, and drops it when told', () => {
    const file = ensureTenantKey(tenantKeyFile(home(), 'acme'));
    const [k0] = hexKeys(file);
    expect(rotateTenantKey('acme', file, { dropPrevious: false })).toBe(2);
    const [k1, previous] = hexKeys(file);
    expect(previous).toBe(k0);
    expect(k1).not.toBe(k0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    rotateTenantKey('acme', file, { dropPrevious: false });
    expect(hexKeys(file).slice(1)).toEqual([k1]);
    const [k2] = hexKeys(file);
    expect(rotateTenantKey('acme', file, { dropPrevious: true })).toBe(1);
    expect(hexKeys(file)).toEqual([k2]);
  });

  it('refuses a tenant without a key file, and a name that is not a tenant', () => {
    const dir = home();
    expect(() => rotateTenantKey('acme', tenantKeyFile(dir, 'acme'), { dropPrevious: false })).toThrow(ConfigError);
    expect(() => rotateTenantKey('acme', tenantKeyFile(dir, 'acme'), { dropPrevious: false })).toThrow(/'gpuflow stack tenant add acme' makes one/);
    expect(() => rotateTenantKey('../x', join(dir, 'x.key'), { dropPrevious: false })).toThrow(ConfigError);
  });

  // Each command is a process of its own, about a second apiece.
  it('is a CLI command that needs no running stack, with one-line mistakes', { timeout: 120_000 }, () => {
    const dir = home();
    const file = ensureTenantKey(tenantKeyFile(dir, 'acme'));
    const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'stack', 'tenant', ...args], { encoding: 'utf8', env: { ...process.env, GPUFLOW_HOME: dir, GPUFLOW_LOG: 'silent' } });
    const before = readFileSync(file, 'utf8');
    const rotated = cli('rotate-key', 'acme');
    expect(rotated.status, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain(`tenant acme: a new signing key first in ${file}`);
    expect(hexKeys(file)[1]).toBe(before.trim());
    const dropped = cli('rotate-key', 'acme', '--drop-previous');
    expect(dropped.status, dropped.stderr).toBe(0);
    expect(hexKeys(file)).toHaveLength(1);
    const mistakes = [
      ['rotate-key', 'globex'], ['add', 'acme', '--drop-previous'], ['rotate-key'], ['remove'], ['remove', 'acme', '--drop-previous'],
      ['rotate-key', 'acme', '--keep-topic'], ['rotate-key', 'acme', '--password-file', 'x'], ['remove', '../acme'], ['drop', 'acme'],
      // No secured stack here: removal says so before touching anything.
      ['remove', 'acme'],
    ];
    for (const args of mistakes) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
    }
    expect(hexKeys(file)).toHaveLength(1);
  });
});
