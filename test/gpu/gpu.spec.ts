/**
 * The GPU checks of test/gpu/checks.ts under vitest. Where NVML or CUDA is absent the suite is
 * skipped and its title says why.
 */
import { describe, expect, it } from 'vitest';
import { runGpuChecks } from './checks.js';

const report = await runGpuChecks();
describe('GPU checks', () => {
  if (!report.gpu) {
    it.skip(`skipped: ${report.reason}`, () => {});
    return;
  }
  it.each(report.checks.map((c) => [c.name, c] as const))(`%s on ${String(report.device?.name)}`, (_name, check) => {
    expect(check.error ?? '').toBe('');
    expect(check.ok).toBe(true);
  });
});
