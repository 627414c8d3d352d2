/**
 * Arrival schedules for load generation, seeded so a run can be repeated exactly:
 * Poisson (exponential gaps), bursty (an on/off Markov-modulated Poisson process: bursts at
 * `burstFactor` times the mean rate, quiet in between, same mean), or a recorded trace.
 */
import { ConfigError } from '../domain/errors.js';
import { seededRandom } from '../domain/random.js';
import { SLO_CLASSES, type SloClass } from '../domain/events/request.js';

export interface Arrival {
  /** Offset from the start of the run, ms. */
  atMs: number;
  model: string;
  tenant: string;
  sloClass: SloClass;
  /** Relative deadline, ms. */
  deadlineMs: number;
}

export interface ArrivalPlan {
  ratePerSec: number;
  durationSec: number;
  pattern: 'poisson' | 'bursty';
  models: readonly string[];
  /** tenant → weight */
  tenants: Readonly<Record<string, number>>;
  /** class → weight */
  classes: Readonly<Partial<Record<SloClass, number>>>;
  /** class → relative deadline, ms */
  deadlines: Readonly<Record<SloClass, number>>;
  seed: number;
  burstFactor?: number;
}

/** Relative deadlines per class: a request/reply over Kafka costs tens of ms in hops alone, so realtime starts at 250 ms. */
export const DEFAULT_DEADLINES: Readonly<Record<SloClass, number>> = { realtime: 250, interactive: 1_000, batch: 10_000 };

/** Parses "a:3,b:1" into weights; a bare name weighs 1. */
export function parseWeights(text: string, what: string): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [name, raw] = part.split(':');
    const weight = raw === undefined ? 1 : Number(raw);
    if (!name || !Number.isFinite(weight) || weight <= 0) throw new ConfigError(`${what}: '${part}' is not NAME or NAME:WEIGHT with a positive weight`);
    weights[name] = weight;
  }
  if (Object.keys(weights).length === 0) throw new ConfigError(`${what}: nothing given`);
  return weights;
}

export function parseClasses(text: string): Partial<Record<SloClass, number>> {
  const weights = parseWeights(text, '--classes');
  for (const name of Object.keys(weights)) {
    if (!(SLO_CLASSES as readonly string[]).includes(name)) throw new ConfigError(`--classes: unknown SLO class '${name}' (known: ${SLO_CLASSES.join(', ')})`);
  }
  return weights as Partial<Record<SloClass, number>>;
}

function weighted<T extends string>(weights: Readonly<Partial<Record<T, number>>>, u: number): T {
  const entries = Object.entries(weights) as [T, number][];
  const total = entries.reduce((a, [, w]) => a + w, 0);
  let x = u * total;
  for (const [name, w] of entries) {
    if ((x -= w) < 0) return name;
  }
  return entries[entries.length - 1]![0];
}

export function planArrivals(plan: ArrivalPlan): Arrival[] {
  if (!(plan.ratePerSec > 0) || !(plan.durationSec > 0)) throw new ConfigError('rate and duration must be positive');
  const random = seededRandom(plan.seed);
  const end = plan.durationSec * 1000;
  const meanGap = 1000 / plan.ratePerSec;
  const factor = plan.burstFactor ?? 4;
  const arrivals: Arrival[] = [];
  let t = 0;
  // Bursty: alternate on (rate × factor) and off (a trickle) periods whose mix keeps the mean rate.
  let on = true;
  let phaseEnd = 0;
  const onShare = 1 / factor;
  const trickle = 0.05;
  for (;;) {
    let gap = meanGap;
    if (plan.pattern === 'bursty') {
      if (t >= phaseEnd) {
        on = !on;
        phaseEnd = t + random.exponential(on ? 1000 * onShare : 1000 * (1 - onShare));
      }
      gap = on ? meanGap / (factor * (1 - trickle)) : meanGap / trickle;
    }
    t += random.exponential(gap);
    if (t >= end) break;
    const sloClass = weighted(plan.classes, random.next());
    arrivals.push({ atMs: t, model: random.pick(plan.models), tenant: weighted(plan.tenants, random.next()), sloClass, deadlineMs: plan.deadlines[sloClass] });
  }
  return arrivals;
}

/** A trace file: one JSON object per line with atMs, model, tenant, sloClass and deadlineMs. */
export function parseTrace(text: string): Arrival[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line, i) => {
      let a: Arrival;
      try {
        a = JSON.parse(line) as Arrival;
      } catch (cause) {
        throw new ConfigError(`trace line ${i + 1} is not JSON`, { cause });
      }
      if (typeof a.atMs !== 'number' || typeof a.model !== 'string' || typeof a.tenant !== 'string' || !(SLO_CLASSES as readonly string[]).includes(a.sloClass) || typeof a.deadlineMs !== 'number') {
        throw new ConfigError(`trace line ${i + 1} needs atMs, model, tenant, sloClass (${SLO_CLASSES.join('|')}) and deadlineMs`);
      }
      return a;
    })
    .sort((a, b) => a.atMs - b.atMs);
}
