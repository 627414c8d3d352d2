/** `gpuflow replay --verify` as a test runs it: the range must re-decide with 0 differences. */
import { expect } from 'vitest';
import { gpuflowSync } from './processes.js';

/** Verifies the range (more flags in `extra`) and returns how many decisions were compared. */
export function expectVerifiedReplay(fromMs: number, toMs: number, extra: string[] = []): number {
  const cli = gpuflowSync(['replay', '--from', String(fromMs), '--to', String(toMs), ...extra, '--verify']);
  const verified = /0 differences in (\d+) decisions/.exec(cli.stdout);
  expect(verified, cli.stderr + cli.stdout).not.toBeNull();
  expect(cli.code).toBe(0);
  return Number(verified![1]);
}
