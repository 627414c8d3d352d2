/**
 * The dispatcher's resident memory per queued request, and its backpressure, measured on a real
 * dispatcher process fed by the real broker with no worker to drain it:
 *   1. `queued` requests are produced; the dispatcher admits them all; RSS before and after, less
 *      the input tensor's own bytes, gives bytes per queued request;
 *   2. with a bound on unfinished requests, it must stop consuming at that bound (the rest stays in
 *      Kafka as consumer lag) instead of growing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { RegistryClient } from '../../src/kafka/registry.js';
import type { Kafka } from '../../src/kafka/client.js';
import { encodeTensor } from '../../src/kafka/codecs/tensor-codec.js';
import { avroCodec } from '../../src/kafka/codecs/topic-codec.js';
import { createProducer } from '../../src/kafka/producer.js';
import { DEMO_MANIFEST } from '../../src/services/manifests.js';

/** The input bytes each request carries (the demo model's 64 floats); excluded from the per-request figure. */
const PAYLOAD_BYTES = DEMO_MANIFEST.inputShape.reduce((a, b) => a * b, 1) * 4;

interface Stats {
  admitted: number;
  unfinished: number;
  rssBytes: number;
  heapUsedBytes: number;
}

function dispatcherProcess(args: string[]): { child: ChildProcess; latest: () => Stats | null } {
  const child = spawn(process.execPath, ['dist/src/cli/run.js', 'dispatcher', '--start-at-end', '--stats-ms', '500', ...args], {
    env: { ...process.env, GPUFLOW_LOG: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let latest: Stats | null = null;
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (!line.includes('"dispatcher.stats"')) return;
    latest = JSON.parse(line) as Stats;
  });
  return { child, latest: () => latest };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`dispatcher-memory: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function produce(kafka: Kafka, registry: RegistryClient, count: number, tag: string): Promise<void> {
  const codec = await avroCodec(registry, 'inference.requests', 'inference-request');
  const producer = await createProducer(kafka, { maxBatchMessages: 5_000 });
  const tensor = encodeTensor({ dtype: 'FP32', shape: [1, ...DEMO_MANIFEST.inputShape], data: new Uint8Array(PAYLOAD_BYTES) });
  const deadlineMs = Date.now() + 3_600_000;
  const chunk = 5_000;
  for (let i = 0; i < count; i += chunk) {
    const messages = [];
    for (let j = i; j < Math.min(count, i + chunk); j++) {
      const value = await codec.encode({
        requestId: `${tag}-${j}`, model: DEMO_MANIFEST.model, modelVersion: '', tenant: 'acme', sloClass: 'batch', deadlineMs,
        submittedAtMs: Date.now(), replyTo: 'inference.results', traceparent: '', tensor,
      });
      messages.push({ key: DEMO_MANIFEST.model, value });
    }
    await producer.send('inference.requests', messages);
  }
  await producer.disconnect();
}

export interface DispatcherMemory {
  queued: number;
  bytesPerQueuedRequest: number;
  heapBytesPerQueuedRequest: number;
  payloadBytesPerRequest: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  backpressure: { maxInFlight: number; produced: number; admittedAfterPause: number; rssBytes: number };
}

export async function measureDispatcherMemory(kafka: Kafka, registry: RegistryClient, queued: number): Promise<DispatcherMemory> {
  const run = randomUUID().slice(0, 6);
  // No worker: no capacity, so no batch forms and every request waits in its queue. The queue
  // policy allows them all, and their one-hour deadlines time none out within the run.
  const first = dispatcherProcess(['--group', `memory-${run}`, '--max-in-flight', String(queued + 1_000), '--max-queue', String(queued + 1_000)]);
  try {
    const before = await until('the dispatcher to start', () => first.latest() ?? undefined, 60_000);
    await new Promise((r) => setTimeout(r, 2_000));
    const idle = first.latest()!;
    await produce(kafka, registry, queued, `m-${run}`);
    const full = await until('all requests admitted', () => {
      const s = first.latest();
      return s && s.admitted >= queued ? s : undefined;
    }, 180_000);
    await new Promise((r) => setTimeout(r, 3_000));
    const settled = first.latest() ?? full;
    void before;
    // Backpressure: a second dispatcher holding at most a tenth of that.
    const bound = Math.max(1_000, Math.floor(queued / 10));
    const second = dispatcherProcess(['--group', `memory-bp-${run}`, '--max-in-flight', String(bound), '--max-queue', String(queued + 1_000)]);
    try {
      await until('the second dispatcher to start', () => second.latest() ?? undefined, 60_000);
      const produced = bound * 3;
      await produce(kafka, registry, produced, `bp-${run}`);
      await new Promise((r) => setTimeout(r, 5_000));
      const paused = second.latest()!;
      return {
        queued,
        bytesPerQueuedRequest: Math.round((settled.rssBytes - idle.rssBytes) / queued - PAYLOAD_BYTES),
        heapBytesPerQueuedRequest: Math.round((settled.heapUsedBytes - idle.heapUsedBytes) / queued),
        payloadBytesPerRequest: PAYLOAD_BYTES,
        rssBeforeBytes: idle.rssBytes,
        rssAfterBytes: settled.rssBytes,
        backpressure: { maxInFlight: bound, produced, admittedAfterPause: paused.admitted, rssBytes: paused.rssBytes },
      };
    } finally {
      second.child.kill('SIGKILL');
    }
  } finally {
    first.child.kill('SIGKILL');
  }
}
