/**
 * Topic declarations (topics/topics.json) as typed data, and the pure diff between what is
 * declared and what a broker has. Applying the diff is the admin adapter's job.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../domain/errors.js';
import { projectPath } from '../paths.js';

export interface TopicSpec {
  name: string;
  doc: string;
  key: string;
  partitions: number;
  replicationFactor: number;
  config: Record<string, string>;
  value: { format: 'avro' | 'flatbuffers' | 'json'; schema: string };
}

/** What a broker reports for a topic (only the configs gpuflow manages are compared). */
export interface TopicState {
  name: string;
  partitions: number;
  replicationFactor: number;
  config: Record<string, string>;
}

export type TopicChange =
  | { kind: 'create'; topic: string; spec: TopicSpec }
  | { kind: 'alter-config'; topic: string; key: string; from: string | undefined; to: string }
  | { kind: 'add-partitions'; topic: string; from: number; to: number }
  | { kind: 'cannot-change'; topic: string; what: string; reason: string };

export function loadTopicSpecs(file: string = projectPath('topics', 'topics.json'), replicationOverride: number | null = null): TopicSpec[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new ConfigError(`cannot read topic declarations from ${file}`, { cause });
  }
  const topics = (raw as { topics?: unknown }).topics;
  if (!Array.isArray(topics)) throw new ConfigError(`${file}: expected {"topics": [...]}`);
  return topics.map((t: TopicSpec) => {
    if (typeof t.name !== 'string' || !Number.isInteger(t.partitions) || t.partitions < 1 || !Number.isInteger(t.replicationFactor)) {
      throw new ConfigError(`${file}: topic ${JSON.stringify(t.name)} needs a name, partitions >= 1 and a replicationFactor`);
    }
    return { ...t, replicationFactor: replicationOverride ?? t.replicationFactor };
  });
}

export function topicSpec(specs: readonly TopicSpec[], name: string): TopicSpec {
  const spec = specs.find((s) => s.name === name);
  if (!spec) throw new ConfigError(`no topic '${name}' is declared in topics/topics.json`);
  return spec;
}

/** Compares declarations with the broker's state; an empty list means nothing to do. */
export function planTopicChanges(desired: readonly TopicSpec[], actual: ReadonlyMap<string, TopicState>): TopicChange[] {
  const changes: TopicChange[] = [];
  for (const spec of desired) {
    const have = actual.get(spec.name);
    if (!have) {
      changes.push({ kind: 'create', topic: spec.name, spec });
      continue;
    }
    if (have.partitions < spec.partitions) changes.push({ kind: 'add-partitions', topic: spec.name, from: have.partitions, to: spec.partitions });
    if (have.partitions > spec.partitions) {
      changes.push({ kind: 'cannot-change', topic: spec.name, what: `partitions ${have.partitions} → ${spec.partitions}`, reason: 'Kafka cannot remove partitions' });
    }
    if (have.replicationFactor !== spec.replicationFactor) {
      changes.push({
        kind: 'cannot-change',
        topic: spec.name,
        what: `replication factor ${have.replicationFactor} → ${spec.replicationFactor}`,
        reason: 'needs a partition reassignment (kafka-reassign-partitions)',
      });
    }
    for (const [key, to] of Object.entries(spec.config)) {
      const from = have.config[key];
      if (from !== to) changes.push({ kind: 'alter-config', topic: spec.name, key, from, to });
    }
  }
  return changes;
}

export function describeChange(change: TopicChange): string {
  switch (change.kind) {
    case 'create':
      return `create ${change.topic} (${change.spec.partitions} partitions, replication ${change.spec.replicationFactor})`;
    case 'alter-config':
      return `alter ${change.topic}: ${change.key} ${change.from ?? '(default)'} → ${change.to}`;
    case 'add-partitions':
      return `alter ${change.topic}: partitions ${change.from} → ${change.to}`;
    case 'cannot-change':
      return `drift ${change.topic}: ${change.what} (${change.reason})`;
  }
}
