/**
 * A dispatcher instance's hold on its partitions when several instances share the work
 * (docs/scheduling.md, "Scale-out"). The consumer group gives it share groups of partitions of
 * inference.requests and the same partitions of worker.reports; for those partitions it keeps:
 *
 * - the ledger of each partition (src/processors/dispatch/partition-ledger.ts), rebuilt on each
 *   assignment from the latest snapshot on scheduler.snapshots plus scheduler.events and
 *   worker.reports after the offsets the snapshot covers, and written back as a new snapshot
 *   every `snapshotIntervalMs`;
 * - the batches it inherited: in flight on a worker when the assignment came (another instance
 *   sent them, or this one before a rebalance). Requests that Kafka delivers again are answered
 *   from the ledger: finished ones are acked and dropped, members of an inherited batch wait for
 *   its report, the rest go to the batcher. An inherited batch whose worker refuses it, restarts
 *   or falls silent gives its members back to the batcher;
 * - its device share (src/processors/dispatch/device-share.ts): heartbeats and samples are shown
 *   to the scheduler scaled to the held share groups, less what inherited batches occupy.
 *
 * A batch is sent to its worker only after its BatchAssigned decision is on scheduler.events (the
 * dispatcher waits for the ack), so the log names every batch a worker may run. A batch whose
 * decision is there but that never went out (its instance died in between) is found by reading
 * inference.batches from the time of the earliest inherited assignment: what is not there is
 * given back to the batcher instead of being waited for.
 */
import type { Kafka } from '../kafka/client.js';
import { describeError, GpuflowError } from '../domain/errors.js';
import type { Batch, GpuSample, Heartbeat, InferenceRequest, SchedulerEvent, WorkerReport } from '../domain/events/index.js';
import type { Delivery } from '../kafka/consumer-source.js';
import { endOffsetsWith } from '../kafka/offsets.js';
import { TOPICS } from '../kafka/topic-names.js';
import { readRanges, type PartitionRange } from '../kafka/partition-ranges.js';
import type { EventProducer } from '../kafka/producer.js';
import { latestSnapshots, SNAPSHOTS_TOPIC, writeSnapshot, type PartitionSnapshot } from '../kafka/scheduler-snapshots.js';
import type { Logger } from '../log.js';
import { groupsOfPartitions, heartbeatInShare, NO_INHERITED_LOAD, sampleInShare, type DeviceShare, type InheritedLoad } from '../processors/dispatch/device-share.js';
import {
  createLedger,
  foldDecision,
  foldReport,
  inFlight,
  ledgerSnapshot,
  pruneFinished,
  releaseBatch,
  restoreLedger,
  statusOf,
  type LedgerBatch,
  type PartitionLedger,
} from '../processors/dispatch/partition-ledger.js';

export interface ScaleOutOptions {
  /** Share groups the partitions fall into; every instance of the deployment uses the same number. */
  shareGroups: number;
  /** How often each held partition's ledger is written to scheduler.snapshots. */
  snapshotIntervalMs: number;
  /** How long a finished request is remembered, for redeliveries (longer than any request's deadline). */
  finishedRetentionMs: number;
}

/** How far before the earliest inherited assignment inference.batches is read (producer timestamps follow the decision). */
const BATCH_SCAN_SLACK_MS = 10_000;
/**
 * How far back a batch may have been decided and not sent. An instance sends a batch within a
 * produce round trip of its decision, and a dead instance's partitions move within its session
 * timeout; a batch in flight for longer than this was sent (reading further back would read hours
 * of inference.batches for a batch stuck on a live worker).
 */
const BATCH_SCAN_WINDOW_MS = 120_000;

/** The consumer group of a deployment's partitioned work (requests and reports together). */
export const partitionedGroupOf = (groupId: string): string => `${groupId}.partitioned`;

interface Decoder<T> {
  decode(b: Buffer): T | Promise<T>;
}

export interface OwnershipDeps {
  kafka: Kafka;
  producer: EventProducer;
  logger: Logger;
  groupId: string;
  options: ScaleOutOptions;
  /** The scheduler's liveness timeout: an inherited batch's worker silent this long has lost it. */
  livenessTimeoutMs: number;
  codecs: { decisions: Decoder<SchedulerEvent>; reports: Decoder<WorkerReport>; batches: Decoder<Batch> };
  /** Resolves when everything this instance has decided so far is on the broker. */
  flushOwn(): Promise<void>;
  /** Publishes a decision taken here about an inherited batch. */
  publish(event: SchedulerEvent): void;
  /** Hands a request back to the batcher (its inherited batch will not report). */
  readmit(d: Delivery<InferenceRequest>): void;
  /** The current turn's time, for decisions made in a turn. */
  now(): number;
}

/** What the last takeover did, for logs and tests. */
export interface RebuildStats {
  partitions: number[];
  ms: number;
  snapshotsFound: number;
  eventsFolded: number;
  reportsFolded: number;
  inherited: number;
  /** In-flight batches whose message was not on inference.batches: given back to the batcher. */
  neverSent: number;
}

interface Held {
  partition: number;
  ledger: PartitionLedger;
  /** The first offsets of scheduler.events and worker.reports not yet folded in. */
  eventsOffset: bigint;
  reportsOffset: bigint;
}

interface Inherited {
  partition: number;
  batch: LedgerBatch;
  /** Members delivered again, waiting for the batch's report. */
  waiting: Delivery<InferenceRequest>[];
}

export interface PartitionOwnership {
  /** The held share groups (empty while nothing is held). */
  readonly share: DeviceShare;
  /** False from a rebalance's start until the ledgers of the new assignment are rebuilt. */
  readonly ready: boolean;
  /** A rebalance began: everything held is let go (the next assignment rebuilds it); the acks of the requests that waited. */
  revoke(): (() => void)[];
  /** The partitions of inference.requests now held: rebuilds their ledgers. */
  assign(partitions: readonly number[]): Promise<RebuildStats>;
  /** 'admit' for a request the batcher should take; 'handled' when it was finished (acked) or waits for an inherited batch. */
  request(d: Delivery<InferenceRequest>): 'admit' | 'handled';
  /** True when the report was about an inherited batch (and was handled here). */
  report(d: Delivery<WorkerReport>): boolean;
  heartbeat(hb: Heartbeat): Heartbeat;
  sample(sample: GpuSample): GpuSample;
  /** Gives back inherited batches whose worker has been silent for the liveness timeout. */
  tick(): void;
  stop(): Promise<void>;
}

export function createPartitionOwnership(deps: OwnershipDeps): PartitionOwnership {
  const { kafka, logger: log, groupId, options } = deps;
  let share: DeviceShare = { groups: options.shareGroups, owned: [] };
  let held = new Map<number, Held>();
  let inherited = new Map<string, Inherited>();
  let load: InheritedLoad = NO_INHERITED_LOAD;
  /** Last heartbeat time of each worker incarnation, `workerId@epoch`, and each worker's newest epoch. */
  const lastSeen = new Map<string, number>();
  const newestEpoch = new Map<string, number>();
  let ready = false;
  let rebuiltAtMs = 0;
  /** Bumped by each rebalance: work begun for an earlier one is dropped. */
  let generation = 0;
  let snapshotting: Promise<void> = Promise.resolve();
  let stopped = false;

  function recomputeLoad(): void {
    const batchesByWorker = new Map<string, number>();
    const bytesByDevice = new Map<string, number>();
    for (const { batch } of inherited.values()) {
      const a = batch.assigned!;
      const key = `${a.workerId}@${a.workerEpoch}`;
      batchesByWorker.set(key, (batchesByWorker.get(key) ?? 0) + 1);
      for (const uuid of a.deviceUuid.split(',')) bytesByDevice.set(uuid, (bytesByDevice.get(uuid) ?? 0) + a.reservedBytes);
    }
    load = { batchesByWorker, bytesByDevice };
  }

  /** Both logs' current ends for the held partitions: reports first, so every report read has its decision within the events read. */
  async function ends(): Promise<{ reports: Map<number, string>; events: Map<number, string> }> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const reports = await endOffsetsWith(admin, TOPICS.reports);
      const events = await endOffsetsWith(admin, TOPICS.decisions);
      return { reports, events };
    } finally {
      await admin.disconnect();
    }
  }

  /** Folds both logs from each held partition's offsets to `to`: all decisions first, then all reports. */
  async function foldTails(targets: readonly Held[], to: { reports: Map<number, string>; events: Map<number, string> }): Promise<{ events: number; reports: number }> {
    const decisions = new Map<number, SchedulerEvent[]>();
    const reports = new Map<number, WorkerReport[]>();
    const ranges = targets.flatMap((h) => [
      { topic: TOPICS.decisions, partition: h.partition, from: h.eventsOffset, to: BigInt(to.events.get(h.partition) ?? '0') },
      { topic: TOPICS.reports, partition: h.partition, from: h.reportsOffset, to: BigInt(to.reports.get(h.partition) ?? '0') },
    ]);
    // Decoding is asynchronous (the registry's schemas), so messages are decoded in order per partition and folded after.
    await readRanges(kafka, log, ranges, async (m) => {
      if (m.value === null) return;
      try {
        if (m.topic === TOPICS.decisions) push(decisions, m.partition, await deps.codecs.decisions.decode(m.value));
        else push(reports, m.partition, await deps.codecs.reports.decode(m.value));
      } catch (error) {
        log.warn('dispatcher.ledger_message_skipped', { topic: m.topic, partition: m.partition, offset: m.offset, error: describeError(error) });
      }
    });
    let events = 0;
    let reported = 0;
    for (const h of targets) {
      for (const e of decisions.get(h.partition) ?? []) foldDecision(h.ledger, e);
      for (const r of reports.get(h.partition) ?? []) foldReport(h.ledger, r);
      events += decisions.get(h.partition)?.length ?? 0;
      reported += reports.get(h.partition)?.length ?? 0;
      h.eventsOffset = maxOf(h.eventsOffset, BigInt(to.events.get(h.partition) ?? '0'));
      h.reportsOffset = maxOf(h.reportsOffset, BigInt(to.reports.get(h.partition) ?? '0'));
      pruneFinished(h.ledger, options.finishedRetentionMs);
    }
    return { events, reports: reported };
  }

  /** Batch ids found on inference.batches from `sinceMs` on, among `wanted`. */
  async function sentAmong(wanted: ReadonlySet<string>, sinceMs: number): Promise<Set<string>> {
    const found = new Set<string>();
    const admin = kafka.admin();
    await admin.connect();
    let ranges: PartitionRange[];
    try {
      const from = await admin.fetchTopicOffsetsByTimestamp(TOPICS.batches, sinceMs);
      const to = await endOffsetsWith(admin, TOPICS.batches);
      ranges = from.map((o) => ({ topic: TOPICS.batches, partition: o.partition, from: BigInt(o.offset), to: BigInt(to.get(o.partition) ?? '0') }));
    } finally {
      await admin.disconnect();
    }
    await readRanges(kafka, log, ranges, async (m) => {
      if (m.value === null || found.size === wanted.size) return;
      try {
        const batch = await deps.codecs.batches.decode(m.value);
        if (wanted.has(batch.batchId)) found.add(batch.batchId);
      } catch {
        // Not a batch this check can read: the consumers of the topic dead-letter it.
      }
    });
    return found;
  }

  async function rebuild(partitions: readonly number[], gen: number): Promise<RebuildStats> {
    const began = Date.now();
    await deps.flushOwn();
    const to = await ends();
    const admin = kafka.admin();
    await admin.connect();
    let snapshots: Map<number, PartitionSnapshot>;
    let committed: Map<number, boolean>;
    try {
      snapshots = await latestSnapshots(kafka, admin, log, groupId, partitions);
      const offsets = await admin.fetchOffsets({ groupId: partitionedGroupOf(groupId), topics: [TOPICS.requests] });
      committed = new Map((offsets[0]?.partitions ?? []).map((p) => [p.partition, p.offset !== '-1']));
    } finally {
      await admin.disconnect();
    }
    const next = new Map<number, Held>();
    for (const p of partitions) {
      const s = snapshots.get(p);
      if (s) next.set(p, { partition: p, ledger: restoreLedger(s.ledger), eventsOffset: BigInt(s.eventsOffset), reportsOffset: BigInt(s.reportsOffset) });
      // A partition this deployment never served has no history to fold: its ledger starts now.
      else if (!committed.get(p)) next.set(p, { partition: p, ledger: createLedger(), eventsOffset: BigInt(to.events.get(p) ?? '0'), reportsOffset: BigInt(to.reports.get(p) ?? '0') });
      else next.set(p, { partition: p, ledger: createLedger(), eventsOffset: 0n, reportsOffset: 0n });
    }
    const folded = await foldTails([...next.values()], to);
    // In flight by the log: sent, unless the instance that decided it died before sending.
    const recent = Date.now() - BATCH_SCAN_WINDOW_MS;
    const flying = [...next.values()].flatMap((h) => inFlight(h.ledger).filter((b) => b.assigned!.atMs >= recent).map((batch) => ({ partition: h.partition, batch })));
    const unsent: { partition: number; batch: LedgerBatch }[] = [];
    if (flying.length > 0) {
      const since = Math.min(...flying.map((f) => f.batch.assigned!.atMs)) - BATCH_SCAN_SLACK_MS;
      const sent = await sentAmong(new Set(flying.map((f) => f.batch.batchId)), since);
      for (const f of flying) {
        if (sent.has(f.batch.batchId)) continue;
        unsent.push({ partition: f.partition, batch: { ...f.batch, requestIds: [...f.batch.requestIds] } });
        releaseBatch(next.get(f.partition)!.ledger, f.batch.batchId);
      }
    }
    if (gen !== generation) throw new RebuildSuperseded();
    held = next;
    inherited = new Map(
      [...next.values()].flatMap((h) => inFlight(h.ledger).map((batch): [string, Inherited] => [batch.batchId, { partition: h.partition, batch, waiting: [] }])),
    );
    recomputeLoad();
    share = { groups: options.shareGroups, owned: groupsOfPartitions(partitions, options.shareGroups) };
    // Outside any turn: the wall clock, as a turn would read it.
    rebuiltAtMs = Date.now();
    // The log says these were assigned: say too that they go back, so the next rebuild knows.
    for (const { batch } of unsent) {
      deps.publish({ type: 'BatchRequeued', atMs: rebuiltAtMs, inputs: [`takeover:${batch.batchId}`], batchId: batch.batchId, model: batch.model, requestIds: batch.requestIds, reason: 'never sent: its dispatcher stopped between deciding and sending it' });
    }
    ready = true;
    const stats: RebuildStats = {
      partitions: [...partitions], ms: Date.now() - began, snapshotsFound: snapshots.size, eventsFolded: folded.events, reportsFolded: folded.reports, inherited: inherited.size, neverSent: unsent.length,
    };
    log.info('dispatcher.partitions_rebuilt', { ...stats });
    return stats;
  }

  /** Folds the logs since the last snapshot of each held partition and writes the new snapshots. */
  async function snapshotNow(): Promise<void> {
    if (!ready || held.size === 0) return;
    const gen = generation;
    const targets = [...held.values()];
    const began = Date.now();
    const to = await ends();
    const folded = await foldTails(targets, to);
    if (gen !== generation) return;
    const admin = kafka.admin();
    await admin.connect();
    let snapshotPartitions: number;
    try {
      snapshotPartitions = (await admin.fetchTopicOffsets(SNAPSHOTS_TOPIC)).length;
    } finally {
      await admin.disconnect();
    }
    let bytes = 0;
    for (const h of targets) {
      bytes += await writeSnapshot(deps.producer, snapshotPartitions, {
        version: 1, groupId, partition: h.partition, eventsOffset: h.eventsOffset.toString(), reportsOffset: h.reportsOffset.toString(), takenAtMs: Date.now(), ledger: ledgerSnapshot(h.ledger),
      });
    }
    log.info('dispatcher.snapshots_written', { partitions: targets.map((h) => h.partition), bytes, eventsFolded: folded.events, reportsFolded: folded.reports, ms: Date.now() - began });
  }

  const timer = setInterval(() => {
    snapshotting = snapshotting.then(snapshotNow).catch((error: unknown) => log.warn('dispatcher.snapshot_failed', { error: describeError(error) }));
  }, options.snapshotIntervalMs);

  /** An inherited batch will not report: its members go back to the batcher. */
  function giveBack(batchId: string, reason: string): void {
    const inh = inherited.get(batchId);
    if (!inh) return;
    inherited.delete(batchId);
    recomputeLoad();
    const ledger = held.get(inh.partition)?.ledger;
    if (ledger) releaseBatch(ledger, batchId);
    deps.publish({ type: 'BatchRequeued', atMs: deps.now(), inputs: [`takeover:${batchId}`], batchId, model: inh.batch.model, requestIds: [...inh.batch.requestIds], reason });
    for (const d of inh.waiting) deps.readmit(d);
  }

  return {
    get share() {
      return share;
    },
    get ready() {
      return ready;
    },
    revoke() {
      const acks = [...inherited.values()].flatMap((inh) => inh.waiting.map((d) => d.ack));
      generation++;
      ready = false;
      held = new Map();
      inherited = new Map();
      recomputeLoad();
      share = { groups: options.shareGroups, owned: [] };
      return acks;
    },
    async assign(partitions) {
      const gen = ++generation;
      ready = false;
      await snapshotting;
      return rebuild(partitions, gen);
    },
    request(d) {
      const h = held.get(d.partition);
      if (!h) return 'admit';
      const status = statusOf(h.ledger, d.value.requestId);
      if (status === 'finished') {
        d.ack();
        return 'handled';
      }
      if (status !== 'unknown') {
        const inh = inherited.get(status.batchId);
        if (inh) {
          inh.waiting.push(d);
          return 'handled';
        }
      }
      return 'admit';
    },
    report(d) {
      const r = d.value;
      const inh = inherited.get(r.batchId);
      if (!inh) return false;
      const a = inh.batch.assigned!;
      d.ack();
      if (a.workerId !== r.workerId || a.workerEpoch !== r.workerEpoch) return true;
      if (r.type === 'BatchRefused') {
        giveBack(r.batchId, `inherited batch refused by ${r.workerId}: ${r.reason}`);
        return true;
      }
      inherited.delete(r.batchId);
      recomputeLoad();
      const ledger = held.get(inh.partition)?.ledger;
      if (ledger) foldReport(ledger, r);
      deps.publish({ type: 'BatchCompleted', atMs: deps.now(), inputs: [`${d.topic}:${d.partition}:${d.offset}`], batchId: r.batchId, model: r.model, workerId: r.workerId, workerEpoch: r.workerEpoch, serviceTimeUs: r.serviceTimeUs });
      for (const w of inh.waiting) w.ack();
      return true;
    },
    heartbeat(hb) {
      lastSeen.set(`${hb.workerId}@${hb.epoch}`, deps.now());
      if (hb.epoch > (newestEpoch.get(hb.workerId) ?? -Infinity)) newestEpoch.set(hb.workerId, hb.epoch);
      for (const [batchId, { batch }] of [...inherited]) {
        const a = batch.assigned!;
        if (a.workerId === hb.workerId && a.workerEpoch < hb.epoch) giveBack(batchId, `worker ${a.workerId} restarted (epoch ${hb.epoch}); its batches from epoch ${a.workerEpoch} are lost`);
      }
      return heartbeatInShare(hb, share, load);
    },
    sample(s) {
      return sampleInShare(s, share, load);
    },
    tick() {
      if (!ready) return;
      const now = deps.now();
      for (const [batchId, { batch }] of [...inherited]) {
        const a = batch.assigned!;
        const seen = Math.max(lastSeen.get(`${a.workerId}@${a.workerEpoch}`) ?? 0, rebuiltAtMs);
        if (now - seen > deps.livenessTimeoutMs) giveBack(batchId, `worker ${a.workerId} silent for ${now - seen} ms`);
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await snapshotting;
    },
  };
}

/** A rebuild overtaken by a newer rebalance; its result is dropped and the newer one rebuilds. */
export class RebuildSuperseded extends GpuflowError {
  constructor() {
    super('rebuild superseded by a newer rebalance', { retriable: true });
    this.name = 'RebuildSuperseded';
  }
}

function push<T>(map: Map<number, T[]>, key: number, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

const maxOf = (a: bigint, b: bigint): bigint => (a > b ? a : b);
