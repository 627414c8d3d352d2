/**
 * `detectAnomalies({ scheduler })`: runs the out-of-memory detector over a telemetry stream, one
 * decider state per device (grouped by device UUID), and emits the AnomalyAlerts to publish on
 * gpu.anomalies: RAISED when a device is heading for out-of-memory, CLEARED when it has recovered.
 *
 * Time comes from the scheduler (asyncScheduler live, TestScheduler in tests, the recorded time in
 * replay), so the same samples at the same times give the same alerts.
 *
 * @example
 * telemetry$.pipe(detectAnomalies({ scheduler: asyncScheduler })).subscribe((alert) => publish(alert));
 */
import { groupBy, mergeMap, scan, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { step, type Decider } from '../../domain/decider.js';
import type { AnomalyAlert, GpuSample } from '../../domain/events/index.js';
import { oomDetector, type DetectorEvent, type DetectorState } from './detector.js';

export interface DetectAnomaliesOptions {
  readonly scheduler: SchedulerLike;
  /** The per-device decider; default `oomDetector()` with its default options. */
  readonly detector?: Decider<DetectorState, GpuSample, DetectorEvent>;
  /** Sees every decided event, scores included (for recording decisions or metrics). */
  readonly onEvent?: (event: DetectorEvent) => void;
}

export function detectAnomalies(options: DetectAnomaliesOptions): OperatorFunction<GpuSample, AnomalyAlert> {
  const detector = options.detector ?? oomDetector();
  const seed = (): { state: DetectorState; events: readonly DetectorEvent[] } => ({ state: detector.initialState(), events: [] });
  return (source) =>
    source.pipe(
      groupBy((sample) => sample.deviceUuid),
      mergeMap((device$) =>
        device$.pipe(
          scan((acc, sample) => step(detector, acc.state, sample, options.scheduler.now()), seed()),
          mergeMap(({ events }) =>
            events.flatMap((event) => {
              options.onEvent?.(event);
              return event.type === 'AlertRaised' || event.type === 'AlertCleared' ? [event.alert] : [];
            }),
          ),
        ),
      ),
    );
}
