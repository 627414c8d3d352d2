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
