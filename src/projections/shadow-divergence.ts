/**
 * How far shadow versions are from what clients got, per model and shadow version
 * (`model/<model>/<shadowVersion>`), from inference.results.shadow, where both the shadow's answer
 * and a copy of the client's answer arrive. The first of a pair waits in one of a fixed number of
 * slots (`pending/<n>`), so the state stays bounded; a pair whose slot is taken by another request
 * before it completes is not compared.
 */
import { decodeTensor } from '../kafka/codecs/tensor-codec.js';
import { float32View, type InferenceResult } from '../domain/events/index.js';
import { fnv1a32 } from '../processors/traffic/sticky-hash.js';
import { originalOf } from '../processors/traffic/shadow-copy.js';
import { divergence } from '../processors/traffic/shadow-divergence.js';
import { NO_CHANGES, type Doc, type Projection } from './projection.js';

/** Upper bounds (µs) of the latency delta histogram: shadow latency minus the client answer's. */
export const LATENCY_DELTA_BUCKETS_US = [-100_000, -10_000, -1_000, 0, 1_000, 10_000, 100_000, 1_000_000] as const;

const SLOTS = 4096;

export interface ShadowPendingDoc extends Doc {
  requestId: string;
  shadow: boolean;
  version: string;
  latencyUs: number;
  /** FP32 output values; null when the answer was not OK or not FP32. */
  output: number[] | null;
}

export interface ShadowDivergenceDoc extends Doc {
  model: string;
  shadowVersion: string;
  comparisons: number;
  /** Pairs whose outputs could be compared (both OK, FP32). */
  outputComparisons: number;
  /** Largest max-abs-diff seen, and the latest one. */
  maxAbsDiff: number;
  lastMaxAbsDiff: number;
  latencyDeltaSumUs: number;
  /** Count per bucket of LATENCY_DELTA_BUCKETS_US (not cumulative). */
  latencyDeltaBuckets: number[];
}

const latencyOf = (r: InferenceResult): number => r.latency.queueUs + r.latency.batchUs + r.latency.transferUs + r.latency.computeUs;

function outputOf(r: InferenceResult): number[] | null {
  if (r.status !== 'OK' || r.output.byteLength === 0) return null;
  const t = decodeTensor(r.output);
  return t.dtype === 'FP32' ? Array.from(float32View(t)) : null;
}

export const shadowDivergenceProjection: Projection<ShadowPendingDoc | ShadowDivergenceDoc> = {
  name: 'shadow-divergence',
  version: 1,
  canHandle: (e) => e.kind === 'shadow',
  handle(state, e) {
    if (e.kind !== 'shadow') return NO_CHANGES;
    const r = e.value;
    const original = originalOf(r.requestId);
    const requestId = original ?? r.requestId;
    const slot = `pending/${fnv1a32(requestId) % SLOTS}`;
    const mine: ShadowPendingDoc = { requestId, shadow: original !== null, version: r.modelVersion, latencyUs: latencyOf(r), output: outputOf(r) };
    const other = state.get(slot) as ShadowPendingDoc | undefined;
    if (other === undefined || other.requestId !== requestId || other.shadow === mine.shadow) return { [slot]: mine };
    const [primary, shadow] = mine.shadow ? [other, mine] : [mine, other];
    const id = `model/${r.model}/${shadow.version}`;
    const doc = (state.get(id) as ShadowDivergenceDoc | undefined) ?? {
      model: r.model, shadowVersion: shadow.version, comparisons: 0, outputComparisons: 0, maxAbsDiff: 0, lastMaxAbsDiff: 0, latencyDeltaSumUs: 0,
      latencyDeltaBuckets: LATENCY_DELTA_BUCKETS_US.map(() => 0),
    };
    const comparable = primary.output !== null && shadow.output !== null;
    const d = divergence({ output: primary.output ?? [], latencyUs: primary.latencyUs }, { output: shadow.output ?? [], latencyUs: shadow.latencyUs });
    const bucket = LATENCY_DELTA_BUCKETS_US.findIndex((le) => d.latencyDeltaUs <= le);
    const buckets = [...doc.latencyDeltaBuckets];
    if (bucket >= 0) buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    // A finite stand-in for "not comparable" (different sizes, NaN): JSON cannot hold Infinity.
    const diff = Number.isFinite(d.maxAbsDiff) ? d.maxAbsDiff : Number.MAX_VALUE;
    return {
      // The slot is free again (an empty request id matches nothing).
      [slot]: { ...mine, requestId: '', output: null },
      [id]: {
        ...doc,
        comparisons: doc.comparisons + 1,
        outputComparisons: doc.outputComparisons + (comparable ? 1 : 0),
        maxAbsDiff: comparable ? Math.max(doc.maxAbsDiff, diff) : doc.maxAbsDiff,
        lastMaxAbsDiff: comparable ? diff : doc.lastMaxAbsDiff,
        latencyDeltaSumUs: doc.latencyDeltaSumUs + d.latencyDeltaUs,
        latencyDeltaBuckets: buckets,
      },
    };
  },
};

export const isShadowDivergenceDoc = (id: string, d: Doc): d is ShadowDivergenceDoc => id.startsWith('model/') && 'comparisons' in d;
