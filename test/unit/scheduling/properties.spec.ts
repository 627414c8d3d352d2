import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SchedulerEvent } from '../../../src/domain/events/scheduler.js';
import { isDecision } from '../../../src/processors/scheduling/facts.js';
import { ScanDeviceIndex } from '../../../bench/lib/scheduling-naive.js';
import { GiB } from './support.js';
import { command, drive, type Run } from './workload.js';

/**
 * An independent shadow of the cluster, rebuilt from the inputs and the decisions only (not
 * from the scheduler's state), that checks each decision as it is made.
 */
function audit(run: Run): { completed: Set<string>; rejected: Set<string> } {
  const free = new Map<string, number>();
  const alerts = new Set<string>();
  const live = new Map<string, number>(); // workerId -> epoch
  const members = new Map<string, string[]>(); // batchId -> current request ids
  const flying = new Map<string, { devices: string[]; bytes: number }>();
  const completed = new Set<string>();
  const rejected = new Set<string>();
  const assignedNow = new Set<string>();
  let f = 0;
  for (const [, input] of run.inputs) {
    if (input.type === 'TelemetryReceived') free.set(input.sample.deviceUuid, input.sample.memFreeBytes);
    if (input.type === 'AnomalyReceived' && input.alert.kind === 'OOM_RISK') {
      if (input.alert.state === 'RAISED') alerts.add(input.alert.deviceUuid);
      else alerts.delete(input.alert.deviceUuid);
    }
    if (input.type === 'BatchReady') members.set(input.batch.batchId, input.batch.members.map((m) => m.requestId));
    // The facts this input produced are those whose inputs name it.
    while (f < run.facts.length && (run.facts[f] as SchedulerEvent).inputs[0] === input.inputRef) {
      const fact = run.facts[f++] as SchedulerEvent;
      if (!isDecision(fact)) continue;
      switch (fact.type) {
        case 'WorkerJoined':
          live.set(fact.workerId, fact.workerEpoch);
          for (const d of fact.deviceUuids) if (!free.has(d)) free.set(d, 24 * GiB);
          break;
        case 'WorkerEvicted':
          expect([...flying.values()].some((b) => b.devices.some((d) => d.startsWith(`${fact.workerId}-`)))).toBe(false);
          live.delete(fact.workerId);
          break;
        case 'BatchAssigned': {
          const devices = fact.deviceUuid.split(',');
          const ids = members.get(fact.batchId) as string[];
          expect(live.get(fact.workerId)).toBe(fact.workerEpoch);
          for (const id of ids) {
            expect(assignedNow.has(id), `request ${id} assigned twice`).toBe(false);
            expect(completed.has(id) || rejected.has(id)).toBe(false);
            assignedNow.add(id);
          }
          for (const d of devices) {
            expect(d.startsWith(`${fact.workerId}-`)).toBe(true);
            expect(alerts.has(d), `assigned to ${d} under an OOM alert`).toBe(false);
            let reserved = fact.reservedBytes;
            for (const b of flying.values()) if (b.devices.includes(d)) reserved += b.bytes;
            expect(reserved, `device ${d} over-committed`).toBeLessThanOrEqual(free.get(d) ?? 0);
          }
          flying.set(fact.batchId, { devices, bytes: fact.reservedBytes });
          break;
        }
        case 'BatchRequeued':
          expect(flying.has(fact.batchId)).toBe(true);
          flying.delete(fact.batchId);
          for (const id of members.get(fact.batchId) ?? []) assignedNow.delete(id);
          members.set(fact.batchId, fact.requestIds);
          break;
        case 'BatchCompleted':
          expect(flying.has(fact.batchId)).toBe(true);
          flying.delete(fact.batchId);
          for (const id of members.get(fact.batchId) ?? []) {
            expect(completed.has(id)).toBe(false);
            completed.add(id);
            assignedNow.delete(id);
          }
          break;
        case 'RequestRejected': {
          expect(completed.has(fact.requestId) || rejected.has(fact.requestId)).toBe(false);
          rejected.add(fact.requestId);
          assignedNow.delete(fact.requestId);
          for (const [batchId, ids] of members) {
            if (!ids.includes(fact.requestId)) continue;
            const rest = ids.filter((x) => x !== fact.requestId);
            members.set(batchId, rest);
            if (rest.length === 0) flying.delete(batchId);
          }
          break;
        }
        case 'BatchFormed':
          break;
      }
    }
  }
  expect(f).toBe(run.facts.length);
  return { completed, rejected };
}

const workloads = fc.array(command, { minLength: 10, maxLength: 160 });

describe('scheduler properties on random workloads with failures and evictions', () => {
  it('no request is assigned twice, no device over-committed or alerted, and every request ends completed, rejected, or still held', () => {
    fc.assert(
      fc.property(workloads, (commands) => {
        const run = drive(commands);
        const { completed, rejected } = audit(run);
        const holder = new Map<string, string>();
        for (const b of run.state.pending.rows.values()) for (const m of b.members) holder.set(m.requestId, b.batchId);
        for (const f of run.state.inFlight.rows.values()) for (const m of f.batch.members) holder.set(m.requestId, f.batch.batchId);
        for (const id of run.submitted) {
          const ends = [completed.has(id), rejected.has(id), holder.has(id)].filter(Boolean).length;
          expect(ends, `request ${id}`).toBe(1);
          // The request index (built lazily) names the batch that holds it, and nothing else.
          expect(run.state.requests.batchOf(id), `batch of ${id}`).toBe(holder.get(id));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('the heap index decides exactly what a scan of every device decides', () => {
    fc.assert(
      fc.property(workloads, (commands) => {
        const ours = drive(commands);
        const naive = drive(commands, { index: () => new ScanDeviceIndex() });
        expect(JSON.stringify(naive.facts)).toBe(JSON.stringify(ours.facts));
      }),
      { numRuns: 100 },
    );
  });

  it('exercises what it claims: evictions, requeues, discarded results, rejections and assignments all occur', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(workloads, (commands) => {
        for (const fact of drive(commands).facts) seen.add(fact.type);
      }),
      { numRuns: 100, seed: 7 },
    );
    for (const type of ['WorkerEvicted', 'BatchRequeued', 'ResultDiscarded', 'RequestRejected', 'BatchAssigned', 'BatchCompleted', 'OomAlertObserved']) {
      expect(seen.has(type), type).toBe(true);
    }
  });
});
