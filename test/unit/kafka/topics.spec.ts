import { describe, expect, it } from 'vitest';
import { loadTopicSpecs, planTopicChanges, type TopicState } from '../../../src/kafka/topics.js';

const specs = loadTopicSpecs();

describe('topic declarations', () => {
  it('declare every topic of the design, each with a dead-letter topic', () => {
    const names = specs.map((s) => s.name);
    for (const t of ['inference.requests', 'inference.batches', 'inference.results', 'gpu.telemetry', 'gpu.heartbeats', 'gpu.anomalies', 'scheduler.events', 'models.manifests']) {
      expect(names).toContain(t);
      expect(names).toContain(`${t}.dlq`);
    }
    expect(specs.find((s) => s.name === 'models.manifests')?.config['cleanup.policy']).toBe('compact');
  });

  it('plans creation of missing topics and nothing once the broker matches', () => {
    expect(planTopicChanges(specs, new Map()).every((c) => c.kind === 'create')).toBe(true);
    const matching = new Map<string, TopicState>(specs.map((s) => [s.name, { name: s.name, partitions: s.partitions, replicationFactor: s.replicationFactor, config: { ...s.config, 'segment.bytes': '1' } }]));
    expect(planTopicChanges(specs, matching)).toEqual([]);
  });

  it('plans config changes and partition growth, and reports what Kafka cannot change', () => {
    const spec = specs[0]!;
    const state: TopicState = { name: spec.name, partitions: 1, replicationFactor: 3, config: { ...spec.config, 'retention.ms': '1' } };
    const kinds = planTopicChanges([spec], new Map([[spec.name, state]])).map((c) => c.kind).sort();
    expect(kinds).toEqual(['add-partitions', 'alter-config', 'cannot-change']);
    const shrink = planTopicChanges([spec], new Map([[spec.name, { ...state, partitions: 99, replicationFactor: 1, config: spec.config }]]));
    expect(shrink).toEqual([expect.objectContaining({ kind: 'cannot-change', reason: 'Kafka cannot remove partitions' })]);
  });

  it('lets a multi-broker cluster override the replication factor', () => {
    expect(loadTopicSpecs(undefined, 3).every((s) => s.replicationFactor === 3)).toBe(true);
  });
});
