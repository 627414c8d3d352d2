/**
 * The rollout guard as a decider: it follows each model's manifest and the outcome of every
 * routed request (failed or not, answered by its deadline or not), keeps the outcomes of the last
 * `windowMs` per version, and aborts the canary (RolloutAborted) once both versions have
 * `minSamples` in the window and the canary's error rate or SLO attainment falls behind stable's
 * by more than the thresholds. An aborted rollout stays aborted until a new manifest of the model.
 *
 * @example
 * const guard = createRolloutGuard({ minSamples: 50 });
 * let s = guard.initialState();
 * ({ state: s } = step(guard, s, { type: 'ManifestSeen', inputRef: 'models.manifests:0:3', manifest }, now));
 * const { events } = step(guard, s, { type: 'OutcomeObserved', inputRef, model, version: '2', failed: false, metDeadline: false }, now);
 */
import type { Decider } from '../../domain/decider.js';
import type { ModelManifest, RolloutAborted } from '../../domain/events/index.js';
import { manifestDefaults } from '../../domain/events/manifest.js';
import { rolloutGuardConfig, type RolloutGuardConfig } from './rollout-guard-config.js';

export type RolloutGuardInput =
  | { type: 'ManifestSeen'; inputRef: string; manifest: ModelManifest }
  | { type: 'OutcomeObserved'; inputRef: string; model: string; version: string; failed: boolean; metDeadline: boolean };

/** One request's outcome in the window. */
export interface Outcome {
  atMs: number;
  failed: boolean;
  metDeadline: boolean;
}

export interface ModelRollout {
  stableVersion: string;
  /** '' when the model has no canary. */
  canaryVersion: string;
  aborted: boolean;
  /** Outcomes in the window, oldest first. */
  stable: readonly Outcome[];
  canary: readonly Outcome[];
}

export interface RolloutGuardState {
  models: Readonly<Record<string, ModelRollout>>;
}

/** Facts the guard folds: a rollout (re)started by a manifest, an outcome recorded, or the decision to abort. */
export type RolloutGuardEvent =
  | { type: 'RolloutTracked'; model: string; stableVersion: string; canaryVersion: string }
  | { type: 'OutcomeRecorded'; model: string; canary: boolean; outcome: Outcome }
  | RolloutAborted;

export type RolloutGuard = Decider<RolloutGuardState, RolloutGuardInput, RolloutGuardEvent>;

/** Error rate and attainment of a window's outcomes. */
export function windowStats(outcomes: readonly Outcome[]): { samples: number; errorRate: number; attainment: number } {
  const samples = outcomes.length;
  if (samples === 0) return { samples, errorRate: 0, attainment: 1 };
  let failed = 0;
  let met = 0;
  for (const o of outcomes) {
    if (o.failed) failed++;
    else if (o.metDeadline) met++;
  }
  return { samples, errorRate: failed / samples, attainment: met / samples };
}

const inWindow = (outcomes: readonly Outcome[], fromMs: number): readonly Outcome[] => {
  let i = 0;
  while (i < outcomes.length && outcomes[i]!.atMs < fromMs) i++;
  return i === 0 ? outcomes : outcomes.slice(i);
};

export function createRolloutGuard(overrides: Partial<RolloutGuardConfig> = {}): RolloutGuard {
  const config = rolloutGuardConfig(overrides);
  return {
    initialState: () => ({ models: {} }),
    decide(state, input, now) {
      if (input.type === 'ManifestSeen') {
        const m = manifestDefaults(input.manifest);
        const canaryVersion = m.canaryVersion !== m.version ? m.canaryVersion : '';
        return [{ type: 'RolloutTracked', model: m.model, stableVersion: m.version, canaryVersion }];
      }
      const rollout = state.models[input.model];
      if (rollout === undefined || rollout.canaryVersion === '' || rollout.aborted) return [];
      const canary = input.version === rollout.canaryVersion;
      if (!canary && input.version !== rollout.stableVersion) return [];
      const recorded: RolloutGuardEvent = { type: 'OutcomeRecorded', model: input.model, canary, outcome: { atMs: now, failed: input.failed, metDeadline: input.metDeadline } };
      const fromMs = now - config.windowMs;
      const stable = windowStats(inWindow(canary ? rollout.stable : [...rollout.stable, recorded.outcome], fromMs));
      const can = windowStats(inWindow(canary ? [...rollout.canary, recorded.outcome] : rollout.canary, fromMs));
      if (stable.samples < config.minSamples || can.samples < config.minSamples) return [recorded];
      const reasons: string[] = [];
      if (can.errorRate - stable.errorRate > config.maxErrorRateIncrease) {
        reasons.push(`error rate ${pct(can.errorRate)} against stable's ${pct(stable.errorRate)} (at most ${pct(config.maxErrorRateIncrease)} more)`);
      }
      if (stable.attainment - can.attainment > config.maxAttainmentDrop) {
        reasons.push(`SLO attainment ${pct(can.attainment)} against stable's ${pct(stable.attainment)} (at most ${pct(config.maxAttainmentDrop)} less)`);
      }
      if (reasons.length === 0) return [recorded];
      const aborted: RolloutAborted = {
        type: 'RolloutAborted', atMs: now, inputs: [input.inputRef], model: input.model,
        stableVersion: rollout.stableVersion, canaryVersion: rollout.canaryVersion,
        reason: `canary ${rollout.canaryVersion} of ${input.model} over the last ${config.windowMs} ms: ${reasons.join('; ')}`,
        stableSamples: stable.samples, canarySamples: can.samples, stableErrorRate: stable.errorRate, canaryErrorRate: can.errorRate,
        stableAttainment: stable.attainment, canaryAttainment: can.attainment,
      };
      return [recorded, aborted];
    },
    evolve(state, event) {
      switch (event.type) {
        case 'RolloutTracked': {
          const previous = state.models[event.model];
          // The same rollout again (a re-read manifest) keeps its window; after an abort, a manifest starts it afresh.
          const same = previous !== undefined && previous.stableVersion === event.stableVersion && previous.canaryVersion === event.canaryVersion && !previous.aborted;
          const next: ModelRollout = same ? previous : { stableVersion: event.stableVersion, canaryVersion: event.canaryVersion, aborted: false, stable: [], canary: [] };
          return { models: { ...state.models, [event.model]: next } };
        }
        case 'OutcomeRecorded': {
          const r = state.models[event.model];
          if (r === undefined) return state;
          const fromMs = event.outcome.atMs - config.windowMs;
          const next: ModelRollout = event.canary
            ? { ...r, canary: [...inWindow(r.canary, fromMs), event.outcome] }
            : { ...r, stable: [...inWindow(r.stable, fromMs), event.outcome] };
          return { models: { ...state.models, [event.model]: next } };
        }
        case 'RolloutAborted': {
          const r = state.models[event.model];
          if (r === undefined) return state;
          return { models: { ...state.models, [event.model]: { ...r, aborted: true, stable: [], canary: [] } } };
        }
      }
    },
  };
}

/** Whether the model's canary was rolled back (traffic all on stable). */
export function isAborted(state: RolloutGuardState, model: string): boolean {
  return state.models[model]?.aborted ?? false;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
