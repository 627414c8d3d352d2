/** `gpuflow whatif`: reads a recorded range from Kafka and runs the comparison (whatif.ts) on it. */
import { ConfigError } from '../domain/errors.js';
import type { Heartbeat, InferenceRequest, ModelManifest } from '../domain/events/index.js';
import type { Kafka } from '../kafka/client.js';
import type { RegistryClient } from '../kafka/registry.js';
import type { Logger } from '../log.js';
import { readDecisions, readInputs, readJournal, readReports } from '../replay/log-reader.js';
import { planReplay } from '../replay/plan.js';
import type { Bound } from '../replay/range.js';
import type { WhatIfPolicy } from './policy.js';
import { whatIf, type Recording, type WhatIfResult } from './whatif.js';

export interface WhatIfRunOptions {
  from?: Bound;
  to?: Bound;
  policy: WhatIfPolicy;
}

/** Reads the range: the journal's turns, the requests, manifests and heartbeats they name, and the decisions and reports that followed. */
export async function readRecording(kafka: Kafka, registry: RegistryClient, logger: Logger, from?: Bound, to?: Bound): Promise<Recording> {
  const plan = planReplay(await readJournal(kafka, logger), from, to);
  if (plan.window === null || plan.instances.length === 0) throw new ConfigError('the journal holds no dispatcher turn in that range');
  const window = plan.window;
  const turns = plan.instances.flatMap((i) => i.turns);
  const refs = turns.flatMap((t) => (t.type === 'input' && !t.ref.startsWith('tick:') && !t.ref.startsWith('gpu.telemetry:') && !t.ref.startsWith('worker.reports:') ? [t.ref] : []));
  const inputs = await readInputs(kafka, registry, logger, refs);
  const requests: Recording['requests'] = [];
  const heartbeats: { atMs: number; heartbeat: Heartbeat }[] = [];
  const manifests = new Map<string, ModelManifest>();
  /** A model retired and not published again by the range's end: its manifest serves until then. */
  const retired = new Map<string, number>();
  for (const t of turns) {
    if (t.type !== 'input') continue;
    const input = inputs.get(t.ref);
    if (input?.kind === 'manifest' && t.atMs <= window.toMs) {
      manifests.set(input.manifest.model, input.manifest);
      retired.delete(input.manifest.model);
    } else if (input?.kind === 'retired' && t.atMs <= window.toMs && manifests.has(input.model)) retired.set(input.model, t.atMs);
    else if (input?.kind === 'heartbeat' && t.atMs <= window.toMs) heartbeats.push({ atMs: t.atMs, heartbeat: input.heartbeat });
    else if (input?.kind === 'request' && t.atMs >= window.fromMs && t.atMs <= window.toMs) requests.push({ atMs: t.atMs, request: input.request as InferenceRequest });
  }
  if (requests.length === 0) throw new ConfigError('the range holds no request');
  const longestDeadline = Math.max(...requests.map((r) => r.request.deadlineMs - r.request.submittedAtMs));
  const after = { fromMs: window.fromMs, toMs: window.toMs + longestDeadline + 1_000 };
  const decisions = (await readDecisions(kafka, registry, logger, after)).map((d) => d.event);
  const reports = await readReports(kafka, registry, logger, after);
  return { window, started: plan.instances[0]!.started, manifests: [...manifests.values()], retirements: [...retired].map(([model, atMs]) => ({ atMs, model })), requests, heartbeats, decisions, reports };
}

export async function runWhatIf(kafka: Kafka, registry: RegistryClient, logger: Logger, options: WhatIfRunOptions): Promise<WhatIfResult> {
  return whatIf(await readRecording(kafka, registry, logger, options.from, options.to), options.policy);
}
