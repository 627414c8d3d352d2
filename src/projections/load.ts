/**
 * What autoscaling needs to know, folded from the log: per model and SLO class, arrivals per
 * second (by submission time) and the mean relative deadline (`arrivals/<model>/<class>`); per
 * model, the slot time a request takes, from the workers' BatchDone reports, overall and per
 * 10 seconds (`service/<model>`). `desired-workers` turns them, with the queue depth, into the
 * number of workers each class needs.
 */
import { addToBuckets, type BucketSpec, type Buckets } from './time-buckets.js';
import { NO_CHANGES, type Doc, type Projection } from './projection.js';

/** Arrivals: one-second buckets, the last two minutes kept. */
export const ARRIVAL_BUCKETS: BucketSpec = { bucketMs: 1_000, keep: 120 };
/** Service times: ten-second buckets, the last ten minutes kept. */
export const SERVICE_BUCKETS: BucketSpec = { bucketMs: 10_000, keep: 60 };

export interface ArrivalsDoc extends Doc {
  model: string;
  sloClass: string;
  requests: number;
  /** Sum over requests of deadlineMs − submittedAtMs. */
  deadlineMsTotal: number;
  /** Second → [requests]. */
  perSecond: Buckets;
}

export interface ServiceDoc extends Doc {
  model: string;
  batches: number;
  requests: number;
  /** Slot time of all batches, µs. */
  busyUs: number;
  /** 10 s bucket → [batches, requests, busyUs]. */
  recent: Buckets;
}

export type LoadDoc = ArrivalsDoc | ServiceDoc;

export const isArrivalsDoc = (id: string, _doc: LoadDoc): _doc is ArrivalsDoc => id.startsWith('arrivals/');
export const isServiceDoc = (id: string, _doc: LoadDoc): _doc is ServiceDoc => id.startsWith('service/');

export const loadProjection: Projection<LoadDoc> = {
  name: 'load',
  version: 1,
  canHandle: (e) => e.kind === 'request' || (e.kind === 'report' && e.value.type === 'BatchDone'),
  handle(state, e) {
    if (e.kind === 'request') {
      const r = e.value;
      const id = `arrivals/${r.model}/${r.sloClass}`;
      const doc = (state.get(id) as ArrivalsDoc | undefined) ?? { model: r.model, sloClass: r.sloClass, requests: 0, deadlineMsTotal: 0, perSecond: {} };
      return {
        [id]: {
          ...doc,
          requests: doc.requests + 1,
          deadlineMsTotal: doc.deadlineMsTotal + Math.max(0, r.deadlineMs - r.submittedAtMs),
          perSecond: addToBuckets(doc.perSecond, r.submittedAtMs, [1], ARRIVAL_BUCKETS),
        },
      };
    }
    if (e.kind !== 'report' || e.value.type !== 'BatchDone') return NO_CHANGES;
    const b = e.value;
    const id = `service/${b.model}`;
    const doc = (state.get(id) as ServiceDoc | undefined) ?? { model: b.model, batches: 0, requests: 0, busyUs: 0, recent: {} };
    return {
      [id]: {
        ...doc,
        batches: doc.batches + 1,
        requests: doc.requests + b.batchSize,
        busyUs: doc.busyUs + b.serviceTimeUs,
        recent: addToBuckets(doc.recent, b.timestampMs, [1, b.batchSize, b.serviceTimeUs], SERVICE_BUCKETS),
      },
    };
  },
};
