/**
 * The detector process: reads gpu.telemetry, runs the out-of-memory detector per device and
 * publishes AnomalyAlerts (RAISED, CLEARED) to gpu.anomalies, which the dispatcher's scheduler
 * reads to stop placing batches on a device at risk. Its per-device windows live in memory: a
 * restarted detector relearns each device from the telemetry that follows (cold-start rules apply).
 */
import { asyncScheduler, map, Subscription, tap } from 'rxjs';
import { describeError } from '../domain/errors.js';
import type { AnomalyAlert, GpuSample } from '../domain/events/index.js';
import type { Logger } from '../log.js';
import type { Kafka } from '../kafka/client.js';
import { avroCodec, codecsByTopic } from '../kafka/codecs/topic-codec.js';
import { consume } from '../kafka/consumer-source.js';
import { createDeadLetterSink } from '../kafka/dead-letters.js';
import { endOffsets } from '../kafka/offsets.js';
import { createProducer } from '../kafka/producer.js';
import type { RegistryClient } from '../kafka/registry.js';
import { detectAnomalies } from '../processors/anomaly/anomaly-operator.js';

export interface DetectorHandle {
  readonly alerts: AnomalyAlert[];
  stop(): Promise<void>;
}

export async function startDetector(kafka: Kafka, registry: RegistryClient, logger: Logger, options: { groupId: string }): Promise<DetectorHandle> {
  const log = logger.child({ service: 'detector' });
  const producer = await createProducer(kafka);
  const samples = await avroCodec(registry, 'gpu.telemetry', 'gpu-sample');
  const anomalies = await avroCodec(registry, 'gpu.anomalies', 'anomaly-alert');
  // Old telemetry says nothing about now: a new group starts at the end.
  const ends = await endOffsets(kafka, 'gpu.telemetry');
  const source = consume<GpuSample>(kafka, {
    groupId: options.groupId, topics: ['gpu.telemetry'], decode: (b) => samples.decode(b), logger: log,
    deadLetters: createDeadLetterSink(producer, codecsByTopic(registry, 'dead-letter')), startAt: (_t, p) => ends.get(p),
  });
  const alerts: AnomalyAlert[] = [];
  const subscription = new Subscription();
  subscription.add(
    source.deliveries$
      .pipe(
        // The window is in memory, so a sample is as handled as it will be once it is in it.
        tap((d) => d.ack()),
        map((d) => d.value),
        detectAnomalies({ scheduler: asyncScheduler }),
      )
      .subscribe({
        next: (alert) => {
          alerts.push(alert);
          log.info('detector.alert', { deviceUuid: alert.deviceUuid, state: alert.state, reason: alert.reason, timeToOomMs: alert.predictedTimeToOomMs });
          // Encoded inside the promise: a value the schema refuses is logged, not thrown into the stream.
          void Promise.resolve()
            .then(() => producer.send('gpu.anomalies', [{ key: alert.deviceUuid, value: anomalies.encode(alert) }]))
            .catch((error: unknown) => log.error('detector.publish_failed', { error: describeError(error) }));
        },
        error: (error: unknown) => log.error('detector.failed', { error: describeError(error) }),
      }),
  );
  log.info('detector.started', { groupId: options.groupId });
  return {
    alerts,
    async stop() {
      subscription.unsubscribe();
      await source.close();
      await producer.disconnect();
    },
  };
}
