import { step } from '../../../src/domain/decider.js';
import type { ModelManifest } from '../../../src/domain/events/manifest.js';
import type { InferenceRequest, SloClass } from '../../../src/domain/events/request.js';
import type { Batcher, BatcherState } from '../../../src/processors/batching/batcher.js';
import type { BatcherOutput } from '../../../src/processors/batching/batch-operator.js';
import type { QueuePolicy } from '../../../src/processors/batching/queue-policy.js';
import type { BatcherInput } from '../../../src/processors/batching/batcher-input.js';

export function manifest(overrides: Partial<ModelManifest> = {}): ModelManifest {
  return {
    model: 'm',
    version: '1',
    executor: 'simulated',
    weightsUri: '',
    inputShape: [4],
    dtype: 'FP32',
    memoryPerSampleBytes: 1024,
    maxBatchSize: 4,
    preferredBatchSizes: [],
    maxQueueDelayMs: 5,
    commit: '',
    ...overrides,
  };
}

export function request(id: string, overrides: Partial<InferenceRequest> & { sloClass?: SloClass } = {}): InferenceRequest {
  return {
    requestId: id,
    model: 'm',
    modelVersion: '',
    tenant: 't',
    sloClass: 'interactive',
    deadlineMs: 1_000_000,
    submittedAtMs: 0,
    replyTo: 'r',
    traceparent: '',
    tensor: new Uint8Array(0),
    ...overrides,
  };
}

export const arrived = (r: InferenceRequest, inputRef = `in:0:${r.requestId}`): BatcherInput => ({ type: 'RequestArrived', request: r, inputRef });
export const capacity = (slots: number, inputRef = 'hb:0:0'): BatcherInput => ({ type: 'CapacityAvailable', slots, inputRef });

/** A state with the manifest applied (and capacity granted), as a restored snapshot would be. */
export function prepared(
  batcher: Batcher,
  options: { manifest?: Partial<ModelManifest>; policy?: Partial<QueuePolicy>; capacity?: number; memoryBudgetBytes?: number } = {},
): BatcherState {
  let state = batcher.initialState();
  state = step(batcher, state, { type: 'ManifestUpdated', manifest: manifest(options.manifest), memoryBudgetBytes: options.memoryBudgetBytes ?? Infinity, policy: options.policy ?? {}, inputRef: 'manifests:0:0' }, 0).state;
  if (options.capacity) state = step(batcher, state, capacity(options.capacity), 0).state;
  return state;
}

/** One line per output, for readable marble expectations. */
export function summary(output: BatcherOutput): string {
  if (output.type === 'BatchFormed') return `${output.event.reason}:${output.event.requestIds.join(',')}`;
  return `REJECTED:${output.event.requestId}`;
}
