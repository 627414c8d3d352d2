/**
 * Dispatcher scale-out against the real broker (docs/scheduling.md, "Scale-out"): two dispatcher
 * processes in one group share the work by partition, two models one in each share group, two
 * simulated workers shared by both, and a client under load. One dispatcher is killed with SIGKILL
 * midway; the other takes over its partitions, rebuilding their ledgers from scheduler.snapshots
 * plus the log after them. Every request must be answered exactly once (none lost, none answered
 * twice), and scheduler.events must show no batch assigned twice and no request in two live
 * assignments. The takeover time and the rebuild's size against a fold of the whole log are printed.
 * Then the same with one share group: one instance serves everything, the other stands by.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import kafkajs from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { planArrivals } from '../../src/client/arrivals.js';
import { createClient, type GpuflowClient } from '../../src/client/client.js';
import { runLoad } from '../../src/client/load-run.js';
import { topReasons, type Outcome } from '../../src/client/summary.js';
import { loadTensor } from '../../src/cli/commands/submit.js';
import type { InferenceResult, SchedulerEvent, WorkerReport } from '../../src/domain/events/index.js';
import { avroCodec } from '../../src/kafka/codecs/topic-codec.js';
import { readRanges } from '../../src/kafka/partition-ranges.js';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { createLedger, foldDecision, foldReport } from '../../src/processors/dispatch/partition-ledger.js';
import { bootstrap } from '../../src/services/bootstrap.js';
import { DEMO_MANIFEST } from '../../src/services/manifests.js';
import { publishTestManifest, testConfig, testKafka, testLogger, waitFor } from '../helpers/kafka.js';
import { children, kill, ready } from '../helpers/processes.js';

const { Partitioners } = kafkajs;
const logger = testLogger();
const procs = children();
const run = randomUUID().slice(0, 6);
const PARTITIONS = 6;

interface LogLine {
  ts: string;
  event: string;
  [field: string]: unknown;
}

interface DispatcherProcess {
  child: ChildProcess;
  logs: LogLine[];
}

const spawned: ChildProcess[] = [];

/** A scale-out dispatcher process whose structured log lines are kept for the checks. */
function dispatcher(group: string, shareGroups: number): DispatcherProcess {
  const flags = ['--group', group, '--tick-ms', '200', '--session-timeout-ms', '6000', '--start-at-end', '--stats-ms', '0'];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'dispatcher', ...flags], {
    env: { ...process.env, GPUFLOW_LOG: 'info', GPUFLOW_DISPATCHER_SHARE_GROUPS: String(shareGroups), GPUFLOW_DISPATCHER_SNAPSHOT_MS: '2000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(child);
  const logs: LogLine[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (!line.startsWith('{')) return;
    const parsed = JSON.parse(line) as LogLine;
    if (parsed.event.startsWith('dispatcher.') || parsed.level === 'error') logs.push(parsed);
  });
  return { child, logs };
}

const worker = (id: string): ChildProcess => procs.gpuflow(['worker', '--simulate', '--id', id, '--slots', '2', '--heartbeat-ms', '500']);

/** The partition of inference.requests a model's requests go to (the producers' default partitioner). */
function partitionOf(model: string): number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: PARTITIONS }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return partitioner({ topic: 'inference.requests', partitionMetadata, message: { key: model, value: null } });
}

const rebuilt = (d: DispatcherProcess): LogLine[] => d.logs.filter((l) => l.event === 'dispatcher.partitions_rebuilt');
const lastRebuilt = (d: DispatcherProcess): LogLine | undefined => rebuilt(d).at(-1);
const instanceOf = (d: DispatcherProcess): string => String(d.logs.find((l) => l.event === 'dispatcher.started')?.instance ?? '');
/** The partitions a dispatcher held after its last rebuild, when they are `count`. */
const holding = (d: DispatcherProcess, count: number): number[] | undefined => {
  const p = (lastRebuilt(d) as { partitions?: number[] } | undefined)?.partitions;
  return p?.length === count ? p : undefined;
};

let client: GpuflowClient;

beforeAll(async () => {
  const config = testConfig();
  await bootstrap(config, logger, { startStack: false });
  await publishTestManifest(DEMO_MANIFEST);
  client = await createClient(config, logger);
});

// Each test's processes go with it, so a failed test cannot leave a dispatcher answering the next one's requests.
afterEach(async () => {
  await Promise.all(spawned.splice(0).map((c) => kill(c, 'SIGKILL')));
  await procs.killAll();
});

afterAll(async () => {
  await client?.close();
});

/** Starts a dispatcher, waits until it holds every partition and has snapshotted them, then starts a second. */
async function twoDispatchers(group: string, shareGroups: number): Promise<[DispatcherProcess, DispatcherProcess]> {
  const d1 = dispatcher(group, shareGroups);
  await ready(d1.child, 'dispatcher 1');
  await waitFor('dispatcher 1 to hold every partition', () => holding(d1, PARTITIONS), 60_000);
  // Its first snapshots cover every partition, so any takeover below starts from one.
  await waitFor('dispatcher 1 to snapshot every partition', () => d1.logs.some((l) => l.event === 'dispatcher.snapshots_written' && (l.partitions as number[]).length === PARTITIONS), 60_000);
  const d2 = dispatcher(group, shareGroups);
  await ready(d2.child, 'dispatcher 2');
  return [d1, d2];
}

interface Run {
  outcomes: Outcome[];
  answers: { model: string; atMs: number; status: string; batchId: string }[];
  startedAt: number;
  killedAt: number;
  duplicates: number;
}

/** 80 requests/s for 14 s over `models`; `victim` is SIGKILLed after 5 s. */
async function loadAndKill(models: string[], victim: DispatcherProcess): Promise<Run> {
  const answers: Run['answers'] = [];
  const seen = client.results$.subscribe((r: InferenceResult) => answers.push({ model: r.model, atMs: Date.now(), status: r.status, batchId: r.batchId }));
  const duplicatesBefore = client.stats.duplicates;
  const startedAt = Date.now();
  const arrivals = planArrivals({
    ratePerSec: 80, durationSec: 14, pattern: 'poisson', models, tenants: { acme: 2, globex: 1 }, classes: { realtime: 1, interactive: 2, batch: 3 },
    deadlines: { realtime: 2_000, interactive: 5_000, batch: 30_000 }, seed: 7,
  });
  const load = runLoad(client, arrivals, { tensor: loadTensor(DEMO_MANIFEST.inputShape[0]!), graceMs: 30_000 });
  await new Promise((r) => setTimeout(r, 5_000));
  const killedAt = Date.now();
  expect(await kill(victim.child, 'SIGKILL')).toBeNull();
  const outcomes = await load;
  seen.unsubscribe();
  expect(outcomes).toHaveLength(arrivals.length);
  return { outcomes, answers, startedAt, killedAt, duplicates: client.stats.duplicates - duplicatesBefore };
}

/** Every request answered exactly once: none timed out or failed, every rejection with its reason, no answer twice. */
function expectAnsweredOnce(r: Run): void {
  const why = JSON.stringify(topReasons(r.outcomes));
  expect(r.outcomes.filter((o) => o.status === 'TIMEOUT'), why).toHaveLength(0);
  expect(r.outcomes.filter((o) => o.status === 'FAILED'), why).toHaveLength(0);
  expect(r.outcomes.filter((o) => o.status === 'REJECTED' && !o.reason)).toHaveLength(0);
  expect(r.duplicates).toBe(0);
  const batchClass = r.outcomes.filter((o) => o.sloClass === 'batch');
  expect(batchClass.filter((o) => o.status === 'OK').length, why).toBeGreaterThan(batchClass.length * 0.9);
}

/** Reads offsets [from, end) of the partitions of scheduler.events and worker.reports, decoded, in offset order per partition. */
async function readLogs(from: (topic: string, partition: number) => bigint): Promise<{ decisions: { partition: number; event: SchedulerEvent }[]; reports: { partition: number; report: WorkerReport }[] }> {
  const registry = createRegistryClient(testConfig().schemaRegistryUrl);
  const decisionsCodec = await avroCodec(registry, 'scheduler.events', 'scheduler-event');
  const reportsCodec = await avroCodec(registry, 'worker.reports', 'worker-report');
  const kafka = testKafka();
  const admin = kafka.admin();
  await admin.connect();
  const ends = { 'scheduler.events': await admin.fetchTopicOffsets('scheduler.events'), 'worker.reports': await admin.fetchTopicOffsets('worker.reports') };
  await admin.disconnect();
  const decisions: { partition: number; event: SchedulerEvent }[] = [];
  const reports: { partition: number; report: WorkerReport }[] = [];
  const ranges = Object.entries(ends).flatMap(([topic, offsets]) => offsets.map((o) => ({ topic, partition: o.partition, from: from(topic, o.partition), to: BigInt(o.high) })));
  await readRanges(kafka, logger, ranges, async (m) => {
    if (m.topic === 'scheduler.events') decisions.push({ partition: m.partition, event: await decisionsCodec.decode(m.value!) });
    else reports.push({ partition: m.partition, report: await reportsCodec.decode(m.value!) });
  });
  return { decisions, reports };
}

/** The decisions of the given instances since `sinceMs`: no batch assigned twice, no request in two assignments that stood. */
async function expectEachAssignedOnce(tags: string[], sinceMs: number): Promise<number> {
  const admin = testKafka().admin();
  await admin.connect();
  const since = new Map((await admin.fetchTopicOffsetsByTimestamp('scheduler.events', sinceMs - 30_000)).map((o) => [o.partition, BigInt(o.offset)]));
  await admin.disconnect();
  const { decisions } = await readLogs((topic, p) => (topic === 'scheduler.events' ? since.get(p)! : BigInt(Number.MAX_SAFE_INTEGER)));
  const ours = (batchId: string): boolean => tags.some((t) => batchId.includes(`~${t}.`));
  const members = new Map<string, string[]>();
  const assignedTimes = new Map<string, number>();
  const requeued = new Set<string>();
  for (const { event: e } of decisions) {
    if (e.type === 'BatchFormed' && ours(e.batchId)) members.set(e.batchId, e.requestIds);
    if (e.type === 'BatchAssigned' && ours(e.batchId)) assignedTimes.set(e.batchId, (assignedTimes.get(e.batchId) ?? 0) + 1);
    if (e.type === 'BatchRequeued' && ours(e.batchId)) requeued.add(e.batchId);
  }
  expect(assignedTimes.size).toBeGreaterThan(0);
  expect([...assignedTimes].filter(([, n]) => n > 1), 'batches assigned twice').toEqual([]);
  const assignments = new Map<string, number>();
  for (const batchId of assignedTimes.keys()) {
    if (requeued.has(batchId)) continue;
    for (const r of members.get(batchId) ?? []) assignments.set(r, (assignments.get(r) ?? 0) + 1);
  }
  expect([...assignments].filter(([, n]) => n > 1), 'requests in two standing assignments').toEqual([]);
  return assignedTimes.size;
}

/** What a rebuild without snapshots folds: both logs of every partition from their start. */
async function foldWholeLog(): Promise<{ events: number; reports: number; readAndFoldMs: number }> {
  const began = performance.now();
  const { decisions, reports } = await readLogs(() => 0n);
  const ledgers = new Map(Array.from({ length: PARTITIONS }, (_, p) => [p, createLedger()]));
  for (const d of decisions) foldDecision(ledgers.get(d.partition)!, d.event);
  for (const r of reports) foldReport(ledgers.get(r.partition)!, r.report);
  return { events: decisions.length, reports: reports.length, readAndFoldMs: Math.round(performance.now() - began) };
}

/** Checks the survivor's takeover and prints what it took; `victimModel` is a model only the victim served. */
async function reportTakeover(what: string, r: Run, survivor: DispatcherProcess, victimModel: string, tags: string[]): Promise<void> {
  const takeover = rebuilt(survivor).find((l) => Date.parse(l.ts) > r.killedAt && (l.partitions as number[]).length === PARTITIONS);
  expect(takeover, 'the survivor rebuilt every partition after the kill').toBeDefined();
  const lastBefore = Math.max(...r.answers.filter((a) => a.model === victimModel && a.atMs <= r.killedAt).map((a) => a.atMs));
  // The first answer for the victim's model from a batch the survivor formed (batches in flight at the kill answer on their own).
  const firstAfter = r.answers.find((a) => a.model === victimModel && a.status === 'OK' && a.batchId.includes(`~${instanceOf(survivor)}.`))?.atMs;
  expect(firstAfter).toBeDefined();
  const batchesAssigned = await expectEachAssignedOnce(tags, r.startedAt);
  const whole = await foldWholeLog();
  const line = {
    takeoverMs: Date.parse(takeover!.ts) - r.killedAt, victimModelSilentMs: firstAfter! - lastBefore, rebuildMs: takeover!.ms, snapshotsFound: takeover!.snapshotsFound,
    eventsFolded: takeover!.eventsFolded, reportsFolded: takeover!.reportsFolded, inherited: takeover!.inherited, neverSent: takeover!.neverSent, wholeLog: whole,
    requests: r.outcomes.length, ok: r.outcomes.filter((o) => o.status === 'OK').length, rejected: r.outcomes.filter((o) => o.status === 'REJECTED').length,
    lost: r.outcomes.filter((o) => o.status === 'TIMEOUT').length, duplicates: r.duplicates, batchesAssigned, batchesAssignedTwice: 0,
  };
  process.stdout.write(`${what}: ${JSON.stringify(line)}\n`);
  // Snapshots bound the rebuild: it found one for every partition and folded less of the log than a rebuild from the start.
  expect(takeover!.snapshotsFound).toBe(PARTITIONS);
  expect(Number(takeover!.eventsFolded)).toBeLessThan(whole.events);
}

describe('dispatcher scale-out on the real broker', () => {
  it('two dispatchers share the work by partition; one SIGKILLed under load, the other takes over: no request lost or answered twice, no batch assigned twice', { timeout: 300_000 }, async () => {
    // Two models whose partitions fall into different share groups, so each dispatcher has one.
    const first = DEMO_MANIFEST.model;
    const second = ['mlp-small-b', 'mlp-small-c', 'mlp-small-d', 'mlp-small-e', 'mlp-small-f', 'mlp-small-g'].find((m) => partitionOf(m) % 2 !== partitionOf(first) % 2)!;
    expect(second).toBeDefined();
    await publishTestManifest({ ...DEMO_MANIFEST, model: second });
    const workers = [worker(`it-so-w1-${run}`), worker(`it-so-w2-${run}`)];
    await Promise.all(workers.map((w) => ready(w, 'worker')));
    const [d1, d2] = await twoDispatchers(`it-scale-out-${run}`, 2);
    // After the second joins, each holds one share group: three partitions.
    await waitFor('both dispatchers to hold a share group each', () => holding(d1, PARTITIONS / 2) && holding(d2, PARTITIONS / 2), 90_000, 200);
    const victim = holding(d1, PARTITIONS / 2)!.includes(partitionOf(first)) ? d1 : d2;
    const survivor = victim === d1 ? d2 : d1;
    expect(holding(survivor, PARTITIONS / 2)!.includes(partitionOf(second))).toBe(true);

    const r = await loadAndKill([first, second], victim);
    expectAnsweredOnce(r);
    await reportTakeover('scale-out failover', r, survivor, first, [instanceOf(d1), instanceOf(d2)]);
    await kill(survivor.child, 'SIGTERM');
    await Promise.all(workers.map((w) => kill(w, 'SIGTERM')));
  });

  it('with one share group the second dispatcher stands by, and takes over when the first is SIGKILLed under load', { timeout: 300_000 }, async () => {
    const workers = [worker(`it-so-w3-${run}`), worker(`it-so-w4-${run}`)];
    await Promise.all(workers.map((w) => ready(w, 'worker')));
    const [d1, d2] = await twoDispatchers(`it-standby-${run}`, 1);
    // One of them holds everything (which one depends on the member ids), the other nothing.
    await waitFor('one dispatcher active and one standing by', () => (holding(d1, PARTITIONS) && holding(d2, 0)) || (holding(d2, PARTITIONS) && holding(d1, 0)), 90_000, 200);
    const active = holding(d1, PARTITIONS) ? d1 : d2;
    const standby = active === d1 ? d2 : d1;

    const r = await loadAndKill([DEMO_MANIFEST.model], active);
    expectAnsweredOnce(r);
    await reportTakeover('standby takeover', r, standby, DEMO_MANIFEST.model, [instanceOf(d1), instanceOf(d2)]);
    await kill(standby.child, 'SIGTERM');
    await Promise.all(workers.map((w) => kill(w, 'SIGTERM')));
  });
});
