import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/domain/errors.js';
import { admit, finish, INITIAL_ADMISSION, type AdmissionState } from '../../../src/processors/scheduling/admission.js';
import { tenantTable } from '../../../src/processors/scheduling/tenants.js';

const tenants = tenantTable({ small: { maxOutstanding: 2 }, slow: { ratePerSec: 2, burst: 2 } });

describe('admission', () => {
  it('rejects at once a request whose deadline is before the earliest completion, saying so', () => {
    const { verdict, state } = admit(INITIAL_ADMISSION, { tenant: 'x', deadlineMs: 1050 }, 1000, tenants, 1060);
    expect(verdict).toEqual({ admitted: false, reason: 'deadline cannot be met: earliest completion in 60 ms, deadline in 50 ms' });
    expect(state).toBe(INITIAL_ADMISSION);
  });

  it('enforces the per-tenant quota of outstanding requests until one finishes', () => {
    let state: AdmissionState = INITIAL_ADMISSION;
    const verdicts = [];
    for (let i = 0; i < 3; i++) {
      const r = admit(state, { tenant: 'small', deadlineMs: 10_000 }, 0, tenants, 10);
      state = r.state;
      verdicts.push(r.verdict);
    }
    expect(verdicts.map((v) => v.admitted)).toEqual([true, true, false]);
    expect(verdicts[2]).toMatchObject({ reason: 'tenant small over quota: 2 of 2 requests outstanding' });
    state = finish(state, 'small');
    expect(admit(state, { tenant: 'small', deadlineMs: 10_000 }, 0, tenants, 10).verdict.admitted).toBe(true);
  });

  it('rate-limits with a token bucket that refills over time', () => {
    let state: AdmissionState = INITIAL_ADMISSION;
    const at = (now: number): boolean => {
      const r = admit(state, { tenant: 'slow', deadlineMs: 1e9 }, now, tenants, now);
      state = r.state;
      return r.verdict.admitted;
    };
    expect([at(0), at(0), at(0)]).toEqual([true, true, false]);
    expect(at(250)).toBe(false);
    expect(at(500)).toBe(true);
    const r = admit(state, { tenant: 'slow', deadlineMs: 1e9 }, 500, tenants, 500);
    expect(r.verdict).toEqual({ admitted: false, reason: 'tenant slow rate limited: 2/s, next token in 500 ms' });
  });

  it('tenants without a policy are unlimited; invalid policies are refused', () => {
    let state: AdmissionState = INITIAL_ADMISSION;
    for (let i = 0; i < 1000; i++) {
      const r = admit(state, { tenant: 'anyone', deadlineMs: 100 }, 0, tenants, 10);
      expect(r.verdict.admitted).toBe(true);
      state = r.state;
    }
    expect(() => tenantTable({ bad: { weight: 0 } })).toThrow(ConfigError);
  });
});
