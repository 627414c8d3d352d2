import { describe, expect, it } from 'vitest';
import { step } from '../../../src/domain/decider.js';
import type { ModelManifest } from '../../../src/domain/events/manifest.js';
import type { RolloutAborted } from '../../../src/domain/events/scheduler.js';
import { createRolloutGuard, isAborted, windowStats, type RolloutGuardEvent, type RolloutGuardInput, type RolloutGuardState } from '../../../src/processors/traffic/rollout-guard.js';

const manifest: ModelManifest = {
  model: 'm', version: '1', executor: 'simulated', weightsUri: 'w1', inputShape: [4], dtype: 'FP32', memoryPerSampleBytes: 16,
  maxBatchSize: 8, preferredBatchSizes: [], maxQueueDelayMs: 5, commit: '', canaryVersion: '2', canaryWeightPercent: 10,
};
const config = { windowMs: 10_000, minSamples: 10, maxErrorRateIncrease: 0.05, maxAttainmentDrop: 0.1 };

function run(inputs: [RolloutGuardInput, number][], state?: RolloutGuardState): { state: RolloutGuardState; aborted: RolloutAborted[] } {
  const guard = createRolloutGuard(config);
  let s = state ?? guard.initialState();
  const aborted: RolloutAborted[] = [];
  for (const [input, now] of inputs) {
    const r = step(guard, s, input, now);
    s = r.state;
    aborted.push(...r.events.filter((e: RolloutGuardEvent): e is RolloutAborted => e.type === 'RolloutAborted'));
  }
  return { state: s, aborted };
}

const seen: [RolloutGuardInput, number] = [{ type: 'ManifestSeen', inputRef: 'models.manifests:0:1', manifest }, 0];
const out = (version: string, atMs: number, failed: boolean, metDeadline = true): [RolloutGuardInput, number] => [
  { type: 'OutcomeObserved', inputRef: `worker.reports:0:${atMs}`, model: 'm', version, failed, metDeadline }, atMs,
];
/** `n` outcomes of each version, alternating, one per ms from `from`. */
const both = (n: number, from: number, canary: (i: number) => [boolean, boolean], stable: (i: number) => [boolean, boolean] = () => [false, true]) =>
  Array.from({ length: n }, (_, i) => [out('1', from + 2 * i, ...stable(i)), out('2', from + 2 * i + 1, ...canary(i))]).flat();

describe('rollout guard', () => {
  it('leaves a canary that serves as well as stable alone', () => {
    const { aborted, state } = run([seen, ...both(200, 1, (i) => [i % 50 === 49, true])]);
    expect(aborted).toEqual([]);
    expect(isAborted(state, 'm')).toBe(false);
  });

  it('aborts a canary whose SLO attainment falls behind stable by more than the threshold, once both have enough samples', () => {
    const { aborted, state } = run([seen, ...both(30, 1, () => [false, false])]);
    expect(aborted).toHaveLength(1);
    const a = aborted[0]!;
    expect(a).toMatchObject({ model: 'm', stableVersion: '1', canaryVersion: '2', stableSamples: 10, canarySamples: 10, stableAttainment: 1, canaryAttainment: 0 });
    expect(a.reason).toMatch(/SLO attainment/);
    expect(a.inputs).toEqual(['worker.reports:0:20']);
    expect(isAborted(state, 'm')).toBe(true);
  });

  it('aborts on the error rate, not before minSamples, and only beyond the threshold', () => {
    // 1 failure in 10 (10%) against 0: 10 points more than stable, beyond 5.
    expect(run([seen, ...both(10, 1, (i) => [i === 0, true])]).aborted).toHaveLength(1);
    expect(run([seen, ...both(9, 1, () => [true, false])]).aborted).toHaveLength(0);
    // Both fail alike: no abort.
    expect(run([seen, ...both(100, 1, (i) => [i % 4 === 0, true], (i) => [i % 4 === 0, true])]).aborted).toHaveLength(0);
  });

  it('forgets outcomes older than the window', () => {
    // Bad canary outcomes at the start, then 10 s of good ones: the old ones left the window.
    const inputs = [seen, ...both(5, 1, () => [true, false]), ...both(10, 20_000, () => [false, true])];
    expect(run(inputs).aborted).toHaveLength(0);
  });

  it('stays aborted (no outcome counts) until a new manifest starts the rollout again', () => {
    const first = run([seen, ...both(30, 1, () => [false, false])]);
    expect(run(both(30, 100, () => [false, false]), first.state).aborted).toHaveLength(0);
    const again = run([[{ type: 'ManifestSeen', inputRef: 'models.manifests:0:2', manifest: { ...manifest, canaryVersion: '3' } }, 200]], first.state);
    expect(isAborted(again.state, 'm')).toBe(false);
    expect(again.state.models.m).toMatchObject({ canaryVersion: '3', stable: [], canary: [] });
  });

  it('ignores models without a canary and versions other than stable and canary', () => {
    const noCanary = { ...manifest, canaryVersion: '' };
    expect(run([[{ type: 'ManifestSeen', inputRef: 'x', manifest: noCanary }, 0], ...both(50, 1, () => [true, false])]).aborted).toEqual([]);
    expect(run([seen, ...Array.from({ length: 50 }, (_, i) => out('9', i, true))]).state.models.m?.canary).toEqual([]);
  });

  it('computes window statistics', () => {
    expect(windowStats([])).toEqual({ samples: 0, errorRate: 0, attainment: 1 });
    expect(windowStats([{ atMs: 0, failed: true, metDeadline: false }, { atMs: 1, failed: false, metDeadline: true }, { atMs: 2, failed: false, metDeadline: false }, { atMs: 3, failed: false, metDeadline: true }]))
      .toEqual({ samples: 4, errorRate: 0.25, attainment: 0.5 });
  });
});
