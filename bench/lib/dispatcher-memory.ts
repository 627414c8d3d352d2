/**
 * The dispatcher's resident memory per queued request, and its backpressure, measured on a real
 * dispatcher process (`gpuflow dispatcher`) fed by the real broker with no worker to drain it:
 *   1. `queued` requests are produced; the dispatcher admits them all, and each waits in its
 *      model's queue (no worker: no capacity, so no batch forms). Its resident set size once idle,
 *      less its resident set size before, less the input tensors' own bytes, over `queued`, is
 *      the figure. It counts everything the process holds for a queued request: the Kafka
 *      source's offset tracking, admission's copy of the request and its input, the dispatcher
 *      core's maps and the batcher's queue and timers, and the garbage collector's slack;
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

/**
 * Produces `count` requests as fast as the broker takes them: one request is encoded through the
 * registry, and each message is a copy of it with its own request id written over the template's
 * (ids of one length, so the Avro framing stays the same).
 */
async function produce(kafka: Kafka, registry: RegistryClient, count: number, tag: string): Promise<void> {
  const codec = await avroCodec(registry, 'inference.requests', 'inference-request');
  const producer = await createProducer(kafka, { maxBatchMessages: 5_000 });
  const tensor = encodeTensor({ dtype: 'FP32', shape: [1, ...DEMO_MANIFEST.inputShape], data: new Uint8Array(PAYLOAD_BYTES) });
  const idOf = (j: number): string => `${tag}-${j.toString(36).padStart(8, '0')}`;
  const placeholder = idOf(0);
  const template = await codec.encode({
    requestId: placeholder, model: DEMO_MANIFEST.model, modelVersion: '', tenant: 'acme', sloClass: 'batch', deadlineMs: Date.now() + 3_600_000,
    submittedAtMs: Date.now(), replyTo: 'inference.results', traceparent: '', tensor,
  });
  const idAt = template.indexOf(placeholder, 0, 'latin1');
  const chunk = 5_000;
  const sends: Promise<void>[] = [];
  for (let i = 0; i < count; i += chunk) {
    const messages = [];
    for (let j = i; j < Math.min(count, i + chunk); j++) {
      const value = Buffer.from(template);
      value.write(idOf(j), idAt, 'latin1');
      messages.push({ key: DEMO_MANIFEST.model, value });
    }
    sends.push(producer.send('inference.requests', messages));
    // A few sends in flight at a time: the producer keeps their order, and memory stays bounded.
    if (sends.length >= 8) await sends.shift();
  }
  await Promise.all(sends);
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

/** Unfinished requests the backpressure check allows, and three times as many produced. */
const BACKPRESSURE_BOUND = 10_000;

export async function measureDispatcherMemory(kafka: Kafka, registry: RegistryClient, queued: number): Promise<DispatcherMemory> {
  const run = randomUUID().slice(0, 6);
  // No worker: no capacity, so no batch forms and every request waits in its queue. The queue
  // policy allows them all, and their one-hour deadlines time none out within the run.
  const first = dispatcherProcess(['--group', `memory-${run}`, '--max-in-flight', String(queued + 1_000), '--max-queue', String(queued + 1_000)]);
  try {
    await until('the dispatcher to start', () => first.latest() ?? undefined, 60_000);
    await new Promise((r) => setTimeout(r, 2_000));
    const idle = first.latest()!;
    await produce(kafka, registry, queued, `m${run}`);
    // Admission runs at thousands a second on a small machine: allow a minute plus 2 ms a request.
    await until('all requests admitted', () => {
      const s = first.latest();
      return s && s.admitted >= queued ? s : undefined;
    }, 60_000 + 2 * queued);
    // Once idle, the garbage of admission is collected and the heap shrinks: the lowest reading of
    // the next ten seconds is what the queued requests hold.
    let settled = first.latest()!;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const s = first.latest()!;
      if (s.rssBytes < settled.rssBytes) settled = s;
    }
    if (settled.unfinished < queued) throw new Error(`dispatcher-memory: only ${settled.unfinished} of ${queued} requests stayed queued`);
    // Backpressure: a second dispatcher holding at most BACKPRESSURE_BOUND.
    const bound = BACKPRESSURE_BOUND;
    const second = dispatcherProcess(['--group', `memory-bp-${run}`, '--max-in-flight', String(bound), '--max-queue', String(queued + 1_000)]);
    try {
      await until('the second dispatcher to start', () => second.latest() ?? undefined, 60_000);
      const produced = bound * 3;
      await produce(kafka, registry, produced, `b${run}`);
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
