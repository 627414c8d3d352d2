/**
 * A shadow copy of a request: the same input for the shadow version, under its own id (so the
 * dispatcher holds and batches it apart from the original), answered on the shadow results topic
 * only, so that no client ever sees it.
 */
import type { InferenceRequest } from '../../domain/events/index.js';

/** Where shadow versions' results go; never a client's reply topic. */
export const SHADOW_RESULTS_TOPIC = 'inference.results.shadow';

/** Appended to the original request id to name its shadow copy. */
export const SHADOW_ID_SUFFIX = '~shadow';

export function shadowCopy(request: InferenceRequest, shadowVersion: string): InferenceRequest {
  return { ...request, requestId: request.requestId + SHADOW_ID_SUFFIX, modelVersion: shadowVersion, replyTo: SHADOW_RESULTS_TOPIC };
}

/** The original request id of a shadow copy's id, or null when `requestId` names no shadow copy. */
export function originalOf(requestId: string): string | null {
  return requestId.endsWith(SHADOW_ID_SUFFIX) ? requestId.slice(0, -SHADOW_ID_SUFFIX.length) : null;
}
