/** *.dlq, key: the original key. Nothing that could not be processed is lost. */
export interface DeadLetter {
  sourceTopic: string;
  partition: number;
  offset: string;
  reason: string;
  errorClass: string;
  key: Uint8Array | null;
  value: Uint8Array | null;
  timestampMs: number;
}
