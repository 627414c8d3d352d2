/**
 * How far a shadow version's answer is from the one the client got: the largest absolute
 * difference between the two output tensors, and the shadow's extra latency. Pure; the caller
 * decodes the tensors.
 */

export interface AnswerSeen {
  /** Output values, flattened. */
  output: ArrayLike<number>;
  /** End-to-end latency of the answer, microseconds (queue + batch + transfer + compute). */
  latencyUs: number;
}

export interface Divergence {
  /** Max |primary - shadow| over the outputs; Infinity when their sizes differ (not comparable). */
  maxAbsDiff: number;
  /** Shadow latency minus primary latency, microseconds. */
  latencyDeltaUs: number;
}

export function divergence(primary: AnswerSeen, shadow: AnswerSeen): Divergence {
  let maxAbsDiff = primary.output.length === shadow.output.length ? 0 : Infinity;
  if (maxAbsDiff === 0) {
    for (let i = 0; i < primary.output.length; i++) {
      const d = Math.abs(primary.output[i]! - shadow.output[i]!);
      // NaN on either side is a divergence, not a silent zero.
      if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Infinity : d;
    }
  }
  return { maxAbsDiff, latencyDeltaUs: shadow.latencyUs - primary.latencyUs };
}
