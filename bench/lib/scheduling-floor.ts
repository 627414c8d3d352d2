import type { SchedulerFact } from '../../src/processors/scheduling/facts.js';

/**
 * A reference for the replay rows, not a scheduler: a fold of the same facts that only keeps
 * each batch, device and worker in a map by its id (queued batches, batches in flight with their
 * device, each device's free memory, reserved bytes and batches, each worker's batch count, each
 * model's last service time), with none of the rules. A replay that names things by string ids
 * costs at least this much on the machine it runs on; the ratio of the two says how much of a
 * replay is the rules.
 */
export function mapOnlyFold(facts: readonly SchedulerFact[]): number {
  const queued = new Map<string, number>();
  const inFlight = new Map<string, { device: string; workerId: string; reservedBytes: number }>();
  const devices = new Map<string, { freeBytes: number; reservedBytes: number; batches: number }>();
  const workers = new Map<string, { batches: number }>();
  const serviceUs = new Map<string, number>();
  const device = (uuid: string) => {
    let d = devices.get(uuid);
    if (d === undefined) devices.set(uuid, (d = { freeBytes: 0, reservedBytes: 0, batches: 0 }));
    return d;
  };
  for (const f of facts) {
    switch (f.type) {
      case 'WorkerJoined':
        workers.set(f.workerId, { batches: 0 });
        break;
      case 'TelemetryObserved':
        device(f.deviceUuid).freeBytes = f.freeBytes;
        break;
      case 'BatchQueued':
        queued.set(f.batch.batchId, f.batch.members.length);
        break;
      case 'BatchAssigned': {
        if (!queued.delete(f.batchId)) break;
        inFlight.set(f.batchId, { device: f.deviceUuid, workerId: f.workerId, reservedBytes: f.reservedBytes });
        const d = device(f.deviceUuid);
        d.reservedBytes += f.reservedBytes;
        d.batches += 1;
        const w = workers.get(f.workerId);
        if (w !== undefined) w.batches += 1;
        break;
      }
      case 'BatchCompleted': {
        const flight = inFlight.get(f.batchId);
        if (flight === undefined) break;
        inFlight.delete(f.batchId);
        const d = device(flight.device);
        d.reservedBytes -= flight.reservedBytes;
        d.batches -= 1;
        const w = workers.get(flight.workerId);
        if (w !== undefined) w.batches -= 1;
        serviceUs.set(f.model, f.serviceTimeUs);
        break;
      }
      default:
        break;
    }
  }
  return queued.size + inFlight.size;
}
