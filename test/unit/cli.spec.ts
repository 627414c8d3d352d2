import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
import { ConfigError } from '../../src/domain/errors.js';
import { loadConfig } from '../../src/config.js';

const cli = (...args: string[]) => spawnSync('npx', ['tsx', 'src/cli/run.ts', ...args], { encoding: 'utf8', env: { ...process.env, GPUFLOW_LOG: 'silent' } });

describe('argument parsing', () => {
  const specs = { rate: { type: 'number', description: '' }, dry: { type: 'boolean', description: '' }, name: { type: 'string', description: '', default: 'x' } } as const;
  it('reads declared flags in both spellings and keeps positionals', () => {
    expect(parseArgs(['apply', '--rate', '5', '--dry', '--name=y'], specs)).toEqual({ positionals: ['apply'], flags: { rate: 5, dry: true, name: 'y' } });
  });
  it('refuses unknown flags, missing values and non-numbers with ConfigError', () => {
    expect(() => parseArgs(['--nope'], specs)).toThrow(ConfigError);
    expect(() => parseArgs(['--rate'], specs)).toThrow(/needs a value/);
    expect(() => parseArgs(['--rate', 'fast'], specs)).toThrow(/must be a number/);
  });
  it('holds number flags to their declared bounds, saying what they accept', () => {
    const bounded = {
      workers: { type: 'number', description: '', integer: true, min: 1 },
      rate: { type: 'number', description: '', positive: true },
      share: { type: 'number', description: '', min: 0, max: 1 },
    } as const;
    expect(parseArgs(['--workers', '3', '--rate', '0.5', '--share', '1'], bounded).flags).toEqual({ workers: 3, rate: 0.5, share: 1 });
    expect(() => parseArgs(['--workers', '1.5'], bounded)).toThrow("--workers must be a whole number of at least 1, got '1.5'");
    expect(() => parseArgs(['--workers', '0'], bounded)).toThrow(/at least 1/);
    expect(() => parseArgs(['--rate', '0'], bounded)).toThrow("--rate must be a positive number, got '0'");
    expect(() => parseArgs(['--share', '1.2'], bounded)).toThrow("--share must be a number from 0 to 1, got '1.2'");
    expect(() => parseArgs(['--share='], bounded)).toThrow(/must be a number from 0 to 1/);
  });
});

describe('configuration', () => {
  it('defaults to a local stack and marks services given by the environment as external', () => {
    const local = loadConfig({});
    expect(local.kafkaBrokers).toEqual(['127.0.0.1:19092']);
    expect(local.external).toEqual({ kafka: false, registry: false, redis: false });
    const ext = loadConfig({ KAFKA_BROKERS: 'a:1,b:2', REDIS_URL: 'redis://x' });
    expect(ext.kafkaBrokers).toEqual(['a:1', 'b:2']);
    expect(ext.external).toEqual({ kafka: true, registry: false, redis: true });
  });
  it('refuses a malformed port with a clear message', () => {
    expect(() => loadConfig({ GPUFLOW_KAFKA_PORT: 'abc' })).toThrow(/GPUFLOW_KAFKA_PORT must be a positive integer/);
  });
});

describe('the gpuflow command', () => {
  it('lists its commands', () => {
    const r = cli('--help');
    expect(r.status).toBe(0);
    for (const name of ['stack', 'topics', 'schemas', 'demo']) expect(r.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });
  it('answers a mistake with one line and a non-zero exit, no stack trace', () => {
    for (const args of [['frobnicate'], ['topics', 'destroy'], ['stack', 'up', '--bogus'], ['worker', '--slots', '0'], ['dispatcher', '--rollout-max-error-increase', '2'], ['submit', '--rate', '-1']]) {
      const r = cli(...args);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 120_000); // each case starts the CLI from source: seconds apiece on a loaded machine
});
