import { step } from '../../src/domain/decider.js';
import { seededRandom } from '../../src/domain/random.js';
import type { DeviceInfo } from '../../src/domain/events/telemetry.js';
import { isDecision, type SchedulerFact } from '../../src/processors/scheduling/facts.js';
import type { SchedulerInput } from '../../src/processors/scheduling/inputs.js';
import type { BatchMemberRef } from '../../src/processors/scheduling/records.js';
import { createScheduler } from '../../src/processors/scheduling/scheduler.js';
import { SimEventQueue, type SimEvent } from '../../src/whatif/sim-event-queue.js';

/**
 * A simulated cluster run in virtual time, closed loop: batches arrive (Poisson), the scheduler
 * places them, simulated devices run them one after another and report completions; workers
 * heartbeat every second, devices report telemetry twice a second, a timer ticks every 100 ms,
 * out-of-memory alerts come and go, and one worker restarts mid-run (its batches are requeued
 * and its late results discarded). The result is the recorded input log, as the live shell
 * would record it, to be re-decided or replayed.
 *
 * The periodic inputs stop when the arrivals do, and the run ends with the last completion: the
 * run's duration is its busy time. (Running them a second longer, as this once did, added an
 * idle second to a 0.3 s run at 4096 devices and made its replay look three times faster.)
 */
export interface RecordedRun {
  devices: number;
  inputs: Array<[number, SchedulerInput]>;
  facts: SchedulerFact[];
  decisions: number;
  /** Virtual time the run covers, ms. */
  durationMs: number;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const DEVICES_PER_WORKER = 8;
/** Models in the run: up to 64, fewer on small clusters so that most traffic finds its model loaded. */
const MAX_MODELS = 64;
const SLO = ['realtime', 'interactive', 'batch'];

export const BENCH_SCHEDULER_CONFIG = {
  livenessTimeoutMs: 5_000,
  coldLoadMs: 3_000,
  serviceTime: { fixedMs: 20, perSampleMs: 4, models: {} },
};

interface AgendaEvent extends SimEvent {
  run: () => void;
}

/** Simulated events in (time, sequence) order. */
class Agenda {
  private readonly queue = new SimEventQueue<AgendaEvent>();
  private seq = 0;
  push(at: number, run: () => void): void {
    this.queue.push({ at, seq: this.seq++, run });
  }
  pop(): AgendaEvent | undefined {
    return this.queue.pop();
  }
}

/** Runs the simulated cluster of `devices` GPUs until `batches` batches have arrived. */
export function recordRun(devices: number, batches: number, seed = 42): RecordedRun {
  const rnd = seededRandom(seed);
  const scheduler = createScheduler({ config: BENCH_SCHEDULER_CONFIG });
  let state = scheduler.initialState();
  const inputs: Array<[number, SchedulerInput]> = [];
  const facts: SchedulerFact[] = [];
  const agenda = new Agenda();
  let now = 0;
  let offset = 0;
  let decisions = 0;

  const workers = devices / DEVICES_PER_WORKER;
  const MODELS = Math.min(MAX_MODELS, workers);
  const epochs = new Array<number>(workers).fill(1);
  const loaded = Array.from({ length: workers }, () => [0, 1, 2].map(() => `model-${rnd.int(0, MODELS - 1)}`));
  const perSample = Array.from({ length: MODELS }, () => rnd.int(256, 1024) * MiB);
  const busyUntil = new Map<string, number>();
  const sizes = new Map<string, number>();
  const deviceInfo = (w: number): DeviceInfo[] =>
    Array.from({ length: DEVICES_PER_WORKER }, (_, i) => ({
      uuid: `GPU-${w}-${i}`,
      index: i,
      name: 'simulated H100',
      memTotalBytes: 80 * GiB,
      pciBusId: `0000:${i}:00.0`,
      simulated: true,
    }));

  const apply = (input: SchedulerInput): void => {
    inputs.push([now, input]);
    const r = step(scheduler, state, input, now);
    state = r.state;
    for (const fact of r.events) {
      facts.push(fact);
      if (!isDecision(fact)) continue;
      decisions += 1;
      if (fact.type !== 'BatchAssigned') continue;
      const size = sizes.get(fact.batchId) ?? 1;
      const device = fact.deviceUuid.split(',')[0] as string;
      const serviceMs = (20 + 4 * size) * (0.8 + 0.4 * rnd.next());
      const start = Math.max(now, busyUntil.get(device) ?? 0);
      const end = start + serviceMs;
      busyUntil.set(device, end);
      const { batchId, workerId, workerEpoch } = fact;
      agenda.push(Math.ceil(end), () =>
        apply({ type: 'BatchCompleted', inputRef: `worker.results:0:${offset++}`, batchId, workerId, workerEpoch, serviceTimeUs: Math.round(serviceMs * 1000) }),
      );
    }
  };

  const heartbeat = (w: number): void =>
    apply({
      type: 'HeartbeatReceived',
      inputRef: `gpu.heartbeats:${w % 8}:${offset++}`,
      heartbeat: { workerId: `worker-${w}`, epoch: epochs[w] as number, node: `node-${w}`, timestampMs: now, devices: deviceInfo(w), loadedModels: loaded[w] as string[], inFlightBatches: 0, capacity: 4 * DEVICES_PER_WORKER },
      topology: [],
    });

  // Everyone joins, then the periodic inputs start, staggered.
  for (let w = 0; w < workers; w++) heartbeat(w);
  const perDeviceRate = 7; // batches per second per device: about 60% busy at 84 ms mean service
  const meanGapMs = 1000 / (perDeviceRate * devices);
  const expectedMs = batches * meanGapMs;
  for (let w = 0; w < workers; w++) {
    const phase = rnd.int(0, 999);
    for (let t = phase; t < expectedMs; t += 1000) {
      agenda.push(t, () => heartbeat(w));
    }
    for (let i = 0; i < DEVICES_PER_WORKER; i++) {
      const uuid = `GPU-${w}-${i}`;
      for (let t = rnd.int(0, 499); t < expectedMs; t += 500) {
        agenda.push(t, () =>
          apply({
            type: 'TelemetryReceived',
            inputRef: `gpu.telemetry:${i}:${offset++}`,
            sample: {
              deviceUuid: uuid, deviceIndex: i, deviceName: 'simulated H100', pciBusId: '', node: `node-${w}`, timestampMs: now,
              memTotalBytes: 80 * GiB, memUsedBytes: 0, memFreeBytes: 80 * GiB - 24 * GiB - rnd.int(0, 8) * GiB,
              gpuUtil: 60, memUtil: 40, temperatureC: 60, powerW: 400, smClockMhz: 1800, memClockMhz: 2600, eccErrors: 0, simulated: true,
            },
          }),
        );
      }
    }
  }
  for (let t = 100; t < expectedMs; t += 100) agenda.push(t, () => apply({ type: 'Tick', inputRef: `tick:${now}` }));
  // A few out-of-memory alerts that clear a second later (sooner in a shorter run, which ends with its traffic).
  const alertMs = Math.min(1000, Math.floor(expectedMs / 4));
  for (let a = 0; a < Math.max(1, devices / 64); a++) {
    const uuid = `GPU-${rnd.int(0, workers - 1)}-${rnd.int(0, DEVICES_PER_WORKER - 1)}`;
    const t = rnd.int(0, Math.floor(expectedMs) - alertMs);
    const alert = (state: 'RAISED' | 'CLEARED') => (): void =>
      apply({ type: 'AnomalyReceived', inputRef: `gpu.anomalies:0:${offset++}`, alert: { deviceUuid: uuid, state, kind: 'OOM_RISK', lofScore: 2.5, predictedTimeToOomMs: 4000, memUsedFraction: 0.93, timestampMs: now, reason: 'memory trend' } });
    agenda.push(t, alert('RAISED'));
    agenda.push(t + alertMs, alert('CLEARED'));
  }
  // Mid-run, worker 0 restarts: a higher epoch evicts the old incarnation.
  agenda.push(Math.floor(expectedMs / 2), () => {
    epochs[0] = (epochs[0] as number) + 1;
    heartbeat(0);
  });

  let arrived = 0;
  let t = 0;
  while (arrived < batches) {
    t += rnd.exponential(meanGapMs);
    const id = `batch-${arrived++}`;
    const at = Math.ceil(t);
    agenda.push(at, () => {
      const model = rnd.int(0, MODELS - 1);
      const size = rnd.int(1, 32);
      sizes.set(id, size);
      const members: BatchMemberRef[] = Array.from({ length: size }, (_, i) => ({
        requestId: `${id}-${i}`,
        tenant: `tenant-${rnd.int(0, 9)}`,
        sloClass: SLO[rnd.int(0, 2)] as string,
        deadlineMs: now + rnd.int(1000, 10_000),
      }));
      apply({ type: 'BatchReady', inputRef: `inference.batches.ready:${model % 16}:${offset++}`, batch: { batchId: id, model: `model-${model}`, modelVersion: '1', memoryPerSampleBytes: perSample[model] as number, members } });
    });
  }
  for (let e = agenda.pop(); e; e = agenda.pop()) {
    now = e.at;
    e.run();
  }
  return { devices, inputs, facts, decisions, durationMs: (inputs.at(-1)?.[0] ?? 0) - (inputs[0]?.[0] ?? 0) };
}
