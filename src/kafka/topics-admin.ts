/** Applies topic declarations to a broker: creates, alters configs, adds partitions; reports drift it cannot fix. */
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import { createTopicsAndWait } from './create-topics.js';
import { planTopicChanges, type TopicChange, type TopicSpec, type TopicState } from './topics.js';

// kafkajs is CommonJS; its enums are reached through the default export under ESM.
const { ConfigResourceTypes } = kafkajs;

export async function readTopicStates(admin: Admin, specs: readonly TopicSpec[]): Promise<Map<string, TopicState>> {
  const existing = new Set(await admin.listTopics());
  const names = specs.map((s) => s.name).filter((n) => existing.has(n));
  const states = new Map<string, TopicState>();
  if (names.length === 0) return states;
  const { topics } = await admin.fetchTopicMetadata({ topics: names });
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
  });
  for (const t of topics) {
    const resource = described.resources.find((r) => r.resourceName === t.name);
    const config: Record<string, string> = {};
    for (const entry of resource?.configEntries ?? []) config[entry.configName] = entry.configValue;
    states.set(t.name, {
      name: t.name,
      partitions: t.partitions.length,
      replicationFactor: t.partitions[0]?.replicas.length ?? 0,
      config,
    });
  }
  return states;
}

export interface ApplyReport {
  applied: TopicChange[];
  drift: TopicChange[];
}

export async function planTopics(kafka: Kafka, specs: readonly TopicSpec[]): Promise<TopicChange[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return planTopicChanges(specs, await readTopicStates(admin, specs));
  } finally {
    await admin.disconnect();
  }
}

export async function applyTopics(kafka: Kafka, specs: readonly TopicSpec[]): Promise<ApplyReport> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const changes = planTopicChanges(specs, await readTopicStates(admin, specs));
    const creates = changes.filter((c) => c.kind === 'create');
    if (creates.length > 0) {
      await createTopicsAndWait(
        admin,
        creates.map(({ spec }) => ({
          topic: spec.name,
          numPartitions: spec.partitions,
          replicationFactor: spec.replicationFactor,
          configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })),
        })),
      );
    }
    const partitionChanges = changes.filter((c) => c.kind === 'add-partitions');
    if (partitionChanges.length > 0) {
      await admin.createPartitions({ topicPartitions: partitionChanges.map((c) => ({ topic: c.topic, count: c.to })) });
    }
    // AlterConfigs replaces a topic's whole set of overrides, so send every declared key at once.
    const altered = [...new Set(changes.filter((c) => c.kind === 'alter-config').map((c) => c.topic))];
    if (altered.length > 0) {
      await admin.alterConfigs({
        validateOnly: false,
        resources: altered.map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configEntries: Object.entries(specs.find((s) => s.name === name)!.config).map(([n, value]) => ({ name: n, value })),
        })),
      });
    }
    return { applied: changes.filter((c) => c.kind !== 'cannot-change'), drift: changes.filter((c) => c.kind === 'cannot-change') };
  } finally {
    await admin.disconnect();
  }
}
