/**
 * The Redis side of the projections. Layout, under a key prefix (default `gpuflow`):
 *   PREFIX:NAME:vVERSION   a hash per projection: document id → the document as JSON
 *   PREFIX:offsets         a hash: 'topic:partition' → the next offset to apply
 *   PREFIX:projections     a hash: projection name → the version stored
 * A batch of events is applied in memory, then its changed documents and the offsets it reached
 * are written in one MULTI/EXEC, so state and position move together: after a crash the
 * projector resumes at the stored offsets with the stored state, and an event below a stored
 * offset (a re-delivery) is skipped. Nothing is lost and nothing is counted twice.
 */
import type { Redis } from 'ioredis';
import { GpuflowError } from '../domain/errors.js';
import type { ProjectedEvent } from './events.js';
import { applyChanges, type Doc, type Projection } from './projection.js';

export class ProjectionStoreError extends GpuflowError {}

/** One event with the log position it came from. */
export interface Positioned {
  topic: string;
  partition: number;
  offset: string;
  event: ProjectedEvent;
}

export const projectionKey = (prefix: string, p: Pick<Projection, 'name' | 'version'>): string => `${prefix}:${p.name}:v${p.version}`;
export const offsetsKey = (prefix: string): string => `${prefix}:offsets`;
export const positionOf = (topic: string, partition: number): string => `${topic}:${partition}`;

export interface ProjectionStore {
  /** Projection name → its documents (the live working copy; read, do not write). */
  readonly states: ReadonlyMap<string, ReadonlyMap<string, Doc>>;
  /** 'topic:partition' → next offset to apply. */
  readonly offsets: ReadonlyMap<string, string>;
  /** Applies the events not applied yet and stores the result atomically; returns how many were applied. */
  apply(batch: readonly Positioned[]): Promise<number>;
}

/** Loads what an earlier run stored under `prefix` (nothing, the first time). */
export async function openProjectionStore(redis: Redis, prefix: string, projections: readonly Projection[]): Promise<ProjectionStore> {
  const states = new Map<string, Map<string, Doc>>();
  for (const p of projections) {
    const raw = await redis.hgetall(projectionKey(prefix, p));
    const docs = new Map<string, Doc>();
    for (const [id, json] of Object.entries(raw)) {
      try {
        docs.set(id, JSON.parse(json) as Doc);
      } catch (cause) {
        throw new ProjectionStoreError(`${projectionKey(prefix, p)} field ${id} is not JSON`, { cause });
      }
    }
    states.set(p.name, docs);
  }
  const offsets = new Map(Object.entries(await redis.hgetall(offsetsKey(prefix))));

  return {
    states,
    offsets,
    async apply(batch) {
      const changed = new Map<string, Map<string, Doc | null>>();
      const reached = new Map<string, string>();
      let applied = 0;
      for (const { topic, partition, offset, event } of batch) {
        const position = positionOf(topic, partition);
        const next = reached.get(position) ?? offsets.get(position);
        if (next !== undefined && BigInt(offset) < BigInt(next)) continue;
        for (const p of projections) {
          if (!p.canHandle(event)) continue;
          const state = states.get(p.name)!;
          const changes = p.handle(state, event);
          applyChanges(state, changes);
          let dirty = changed.get(p.name);
          if (!dirty) changed.set(p.name, (dirty = new Map()));
          for (const [id, doc] of Object.entries(changes)) dirty.set(id, doc);
        }
        reached.set(position, (BigInt(offset) + 1n).toString());
        applied++;
      }
      if (reached.size === 0) return 0;
      const tx = redis.multi();
      for (const p of projections) {
        const dirty = changed.get(p.name);
        if (!dirty || dirty.size === 0) continue;
        const written = [...dirty].filter(([, doc]) => doc !== null);
        const removed = [...dirty].filter(([, doc]) => doc === null).map(([id]) => id);
        if (written.length > 0) tx.hset(projectionKey(prefix, p), Object.fromEntries(written.map(([id, doc]) => [id, JSON.stringify(doc)])));
        if (removed.length > 0) tx.hdel(projectionKey(prefix, p), ...removed);
      }
      tx.hset(offsetsKey(prefix), Object.fromEntries(reached));
      tx.hset(`${prefix}:projections`, Object.fromEntries(projections.map((p) => [p.name, String(p.version)])));
      const results = await tx.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw new ProjectionStoreError(`could not store projections under ${prefix}`, { cause: failed?.[0] ?? new Error('transaction aborted') });
      for (const [position, next] of reached) offsets.set(position, next);
      return applied;
    },
  };
}

/** Every key under `prefix` with its hash contents: what a rebuild is compared with. */
export async function dumpProjections(redis: Redis, prefix: string): Promise<Map<string, Record<string, string>>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  const out = new Map<string, Record<string, string>>();
  for (const key of keys.sort()) out.set(key, await redis.hgetall(key));
  return out;
}
