/** gpu.anomalies, key: device UUID. `RAISED` starts an alert, `CLEARED` ends it. */
export interface AnomalyAlert {
  deviceUuid: string;
  state: 'RAISED' | 'CLEARED';
  kind: 'OOM_RISK' | 'OUTLIER';
  /** scikit-learn's convention: larger means more anomalous (LOF ≈ 1 is normal). */
  lofScore: number;
  /** Forecast milliseconds until memory is exhausted; null when no upward trend. */
  predictedTimeToOomMs: number | null;
  memUsedFraction: number;
  timestampMs: number;
  reason: string;
}
