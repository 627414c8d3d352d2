/**
 * Anomaly detection end to end on the real broker: telemetry of a simulated memory leak goes
 * through gpu.telemetry to the detector, its alert through gpu.anomalies to the dispatcher, and the
 * scheduler stops placing batches on that device while its neighbour keeps serving.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { afterAll, expect, it } from 'vitest';
import { createClient } from '../../src/client/client.js';
import { loadTensor } from '../../src/cli/commands/submit.js';
import type { BatchAssigned } from '../../src/domain/events/index.js';
import { DEVICE_PROFILES } from '../../src/gpu/simulated/latency-model.js';
import { simulatedUuid } from '../../src/gpu/simulated/simulated-devices.js';
import { generateScenario } from '../../src/gpu/simulated/telemetry-scenarios.js';
import { avroCodec } from '../../src/kafka/codecs/topic-codec.js';
import { createProducer } from '../../src/kafka/producer.js';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { bootstrap } from '../../src/services/bootstrap.js';
import { startDetector } from '../../src/services/detector.js';
import { startDispatcher } from '../../src/services/dispatcher.js';
import { DEMO_MANIFEST, publishManifest } from '../../src/services/manifests.js';
import { testConfig, testLogger, waitFor } from '../helpers/kafka.js';
import { children } from '../helpers/processes.js';

const logger = testLogger();
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

it('raises an out-of-memory alert for a leaking device and the scheduler stops placing batches on it', async () => {
  const config = testConfig();
  const { kafka } = await bootstrap(config, logger, { startStack: false });
  const registry = createRegistryClient(config.schemaRegistryUrl);
  const producer = await createProducer(kafka);
  cleanups.push(() => producer.disconnect());
  await publishManifest(producer, registry, DEMO_MANIFEST);

  const run = randomUUID().slice(0, 6);
  const detector = await startDetector(kafka, registry, logger, { groupId: `it-detector-${run}` });
  cleanups.push(() => detector.stop());
  const dispatcher = await startDispatcher(kafka, registry, logger, { groupId: `it-anomaly-${run}`, tickMs: 200, maxInFlightRequests: 10_000, startAtEnd: true });
  cleanups.push(() => dispatcher.stop());
  const assignments: { atMs: number; device: string }[] = [];
  const joined = new Set<string>();
  dispatcher.decisions$.subscribe((e) => {
    if (e.type === 'BatchAssigned') assignments.push({ atMs: Date.now(), device: (e as BatchAssigned).deviceUuid });
    if (e.type === 'WorkerJoined') joined.add(e.workerId);
  });

  // One worker with two simulated GPUs; the test plays their telemetry itself.
  const workerId = `it-anomaly-w-${run}`;
  const procs = children();
  const worker = procs.gpuflow(['worker', '--simulate', '--id', workerId, '--gpus', '2', '--slots', '4', '--telemetry-ms', '0', '--heartbeat-ms', '500']);
  worker.stdout!.resume();
  cleanups.push(() => procs.killAll());
  const [healthy, leaking] = [0, 1].map((i) => simulatedUuid(`${hostname()}-${workerId}`, i)) as [string, string];
  await waitFor('the worker to join', () => (joined.has(workerId) ? true : undefined), 90_000);

  const memTotalBytes = DEVICE_PROFILES.H100.memoryBytes;
  const steady = generateScenario({ kind: 'steady', seed: 3, durationMs: 120_000, memTotalBytes });
  const leak = generateScenario({ kind: 'leak', seed: 4, durationMs: 120_000, memTotalBytes, leakRatePerSec: 0.02, healthyPrefixMs: 10_000 });
  const telemetry = await avroCodec(registry, 'gpu.telemetry', 'gpu-sample');
  let stopped = false;
  const started = Date.now();
  const play = (async () => {
    for (let i = 0; !stopped && i < steady.samples.length; i++) {
      const now = Date.now();
      const out = [
        { ...steady.samples[i]!, deviceUuid: healthy, deviceIndex: 0, timestampMs: now },
        { ...leak.samples[i]!, deviceUuid: leaking, deviceIndex: 1, timestampMs: now },
      ];
      await producer.send('gpu.telemetry', await Promise.all(out.map(async (s) => ({ key: s.deviceUuid, value: await telemetry.encode(s) }))));
      await new Promise((r) => setTimeout(r, Math.max(0, started + (i + 1) * 500 - Date.now())));
    }
  })();
  cleanups.push(async () => ((stopped = true), play));

  // Steady load while the leak grows.
  const client = await createClient(config, logger);
  cleanups.push(() => client.close());
  let sending = true;
  const load = (async () => {
    for (let i = 0; sending; i++) {
      void client.infer({ model: DEMO_MANIFEST.model, tenant: 'acme', sloClass: 'batch', deadlineMs: 10_000, tensor: loadTensor(64)({} as never, i) }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  cleanups.push(async () => ((sending = false), load));

  const alert = await waitFor('an OOM alert for the leaking device', () => detector.alerts.find((a) => a.deviceUuid === leaking && a.state === 'RAISED'), 90_000, 200);
  const alertAt = Date.now();
  expect(detector.alerts.filter((a) => a.deviceUuid === healthy && a.state === 'RAISED')).toEqual([]);
  expect(alert.kind).toBe('OOM_RISK');
  // Raised well before a fixed 92 % threshold would have fired.
  expect(alert.memUsedFraction).toBeLessThan(0.92);
  expect(alert.predictedTimeToOomMs).not.toBeNull();

  // Both devices served before the alert; after it reached the scheduler, only the healthy one.
  await new Promise((r) => setTimeout(r, 8_000));
  sending = false;
  await load;
  const before = assignments.filter((a) => a.atMs < alertAt);
  const after = assignments.filter((a) => a.atMs > alertAt + 3_000);
  expect(new Set(before.map((a) => a.device))).toEqual(new Set([healthy, leaking]));
  expect(after.length).toBeGreaterThan(10);
  expect(after.every((a) => a.device === healthy)).toBe(true);
});
