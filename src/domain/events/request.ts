/**
 * SLO classes, most urgent first. A platform maps its products onto these three;
 * per-class targets live in configuration, not in the event.
 */
export const SLO_CLASSES = ['realtime', 'interactive', 'batch'] as const;
export type SloClass = (typeof SLO_CLASSES)[number];

/** What a client produces to inference.requests (key: model). */
export interface InferenceRequest {
  requestId: string;
  model: string;
  /** Empty means "whatever the manifest routes to". */
  modelVersion: string;
  tenant: string;
  sloClass: SloClass;
  /** Absolute deadline, epoch ms. */
  deadlineMs: number;
  submittedAtMs: number;
  /** Topic the client reads its result from (per-tenant result topics allow isolation). */
  replyTo: string;
  /** W3C trace context of the client span, '' when untraced. */
  traceparent: string;
  /** The input tensor as a FlatBuffers `Tensor` (schemas/tensor.fbs). */
  tensor: Uint8Array;
}

/**
 * Tenant names key results, Redis documents and metric labels, so they are plain identifiers:
 * 1 to 64 of A-Z a-z 0-9 . _ -. Any such name is served (under the default tenant policy when the
 * deployment names none for it); anything else is refused at admission.
 */
export const TENANT_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** Why a request's own fields make it impossible to answer or to account for, or null when they do not. */
export function requestFieldProblem(request: Pick<InferenceRequest, 'requestId' | 'tenant'>): { answerable: boolean; reason: string } | null {
  if (request.requestId === '') return { answerable: false, reason: 'request id is empty: its answer could not be told from any other' };
  if (!TENANT_NAME.test(request.tenant)) return { answerable: true, reason: `tenant ${JSON.stringify(request.tenant)} is not a tenant name (1 to 64 of A-Z a-z 0-9 . _ -)` };
  return null;
}
