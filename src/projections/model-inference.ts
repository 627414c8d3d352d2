/**
 * Per model and version, what Triton's inference metrics count (`model/<model>/<version>`):
 * requests that succeeded or failed and their queue and compute time (from inference.results),
 * model executions and the inferences they ran (from the workers' BatchDone reports).
 */
import { NO_CHANGES, type Doc, type Projection } from './projection.js';

export interface ModelInferenceDoc extends Doc {
  model: string;
  version: string;
  success: number;
  failure: number;
  queueUs: number;
  computeUs: number;
  execCount: number;
  inferenceCount: number;
}

const empty = (model: string, version: string): ModelInferenceDoc => ({ model, version, success: 0, failure: 0, queueUs: 0, computeUs: 0, execCount: 0, inferenceCount: 0 });

export const modelInferenceProjection: Projection<ModelInferenceDoc> = {
  name: 'model-inference',
  version: 1,
  canHandle: (e) => e.kind === 'result' || (e.kind === 'report' && e.value.type === 'BatchDone'),
  handle(state, e) {
    if (e.kind === 'result') {
      const r = e.value;
      const id = `model/${r.model}/${r.modelVersion}`;
      const doc = state.get(id) ?? empty(r.model, r.modelVersion);
      const ok = r.status === 'OK';
      return {
        [id]: {
          ...doc,
          success: doc.success + (ok ? 1 : 0),
          failure: doc.failure + (ok ? 0 : 1),
          queueUs: doc.queueUs + (ok ? r.latency.queueUs : 0),
          computeUs: doc.computeUs + (ok ? r.latency.computeUs : 0),
        },
      };
    }
    if (e.kind !== 'report' || e.value.type !== 'BatchDone') return NO_CHANGES;
    const b = e.value;
    const id = `model/${b.model}/${b.modelVersion}`;
    const doc = state.get(id) ?? empty(b.model, b.modelVersion);
    return { [id]: { ...doc, execCount: doc.execCount + 1, inferenceCount: doc.inferenceCount + b.batchSize } };
  },
};
