/**
 * A three-node KRaft cluster (replication factor 3, min.insync.replicas 2) started by the stack's
 * own code, with the leader of the stream's partition SIGKILLed mid-stream: the project's
 * idempotent producer (acks all) and consumer source must lose nothing and write nothing twice (a
 * record the consumer had not committed may be delivered again, as the same record), and the time from the kill to the next acknowledged write is measured. Then `stack up` starts
 * only the missing node and it catches up. Writes bench/results/cluster-failover.json.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { row, writeResult } from '../../bench/result.js';
import { consume, type Delivery } from '../../src/kafka/consumer-source.js';
import { createProducer } from '../../src/kafka/producer.js';
import { createTopicsAndWait } from '../../src/kafka/create-topics.js';
import { kafkaNodeAnswers } from '../../src/stack/kafka.js';
import { startLocalCluster, type LocalCluster } from '../helpers/cluster.js';
import { uniqueName, waitFor } from '../helpers/kafka.js';

const BEFORE_KILL = 300;
const AFTER_RECOVERY = 300;
const PACE_MS = 10;

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startLocalCluster({ name: 'failover', brokers: 3, portOffset: 100 });
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
}, 120_000);

async function partitionState(topic: string): Promise<{ leader: number; isr: number[]; replicas: number[] }> {
  const admin = cluster.kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const p = topics[0]!.partitions[0]!;
    return { leader: p.leader, isr: p.isr, replicas: p.replicas };
  } finally {
    await admin.disconnect();
  }
}

describe('a 3-node cluster losing a broker under load', () => {
  it('runs three voters that each answer, with three-way replication by default', async () => {
    expect(cluster.nodes.map((n) => n.port)).toEqual([0, 1, 2].map((i) => cluster.config.stack.kafkaPort + i * 100));
    expect(await Promise.all(cluster.nodes.map((n) => kafkaNodeAnswers(cluster.config, n)))).toEqual([true, true, true]);
    expect(cluster.config.topicReplication).toBe(3);
    expect(cluster.config.kafkaBrokers).toHaveLength(3);
  });

  it('loses nothing and writes nothing twice when the partition leader is SIGKILLed', { timeout: 300_000 }, async () => {
    const topic = uniqueName('failover');
    const admin = cluster.kafka.admin();
    await admin.connect();
    try {
      await createTopicsAndWait(admin, [{ topic, numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }]);
    } finally {
      await admin.disconnect();
    }
    const before = await partitionState(topic);
    expect(before.replicas).toHaveLength(3);
    expect(before.isr).toHaveLength(3);

    const received: Delivery<string>[] = [];
    const source = consume(cluster.kafka, {
      groupId: uniqueName('failover-reader'),
      topics: [topic],
      decode: async (value) => value.toString('utf8'),
      deadLetters: { send: async (entry) => Promise.reject(new Error(`unexpected dead letter: ${entry.reason}`)) },
      logger: cluster.logger,
      fromBeginning: true,
      commitIntervalMs: 100,
      sessionTimeoutMs: 10_000,
    });
    const subscription = source.deliveries$.subscribe((delivery) => {
      received.push(delivery);
      delivery.ack();
    });

    const producer = await createProducer(cluster.kafka, { lingerMs: 0 });
    const acked: { seq: number; at: number }[] = [];
    let seq = 0;
    const sendNext = async (): Promise<void> => {
      const n = seq++;
      await producer.send(topic, [{ key: 'stream', value: Buffer.from(String(n)) }]);
      acked.push({ seq: n, at: Date.now() });
    };
    try {
      while (acked.length < BEFORE_KILL) {
        await sendNext();
        await new Promise((r) => setTimeout(r, PACE_MS));
      }
      const victim = (await partitionState(topic)).leader;
      // The stream goes on while the leader dies: the kill lands between two paced sends.
      const streaming = (async () => {
        while (acked.length < BEFORE_KILL + AFTER_RECOVERY) {
          await sendNext();
          await new Promise((r) => setTimeout(r, PACE_MS));
        }
      })();
      await new Promise((r) => setTimeout(r, 50));
      const killedAt = Date.now();
      process.kill(cluster.pidOf(victim), 'SIGKILL');
      await streaming;
      const firstAfter = acked.find((a) => a.at > killedAt)!;
      const recoveryMs = firstAfter.at - killedAt;
      const after = await partitionState(topic);
      expect(after.leader).not.toBe(victim);
      expect(after.isr).not.toContain(victim);

      await waitFor('every acknowledged record at the consumer', () => (new Set(received.map((d) => d.offset)).size >= acked.length ? true : undefined), 60_000);
      // A short grace for anything delivered twice to show up.
      await new Promise((r) => setTimeout(r, 1_000));
      // The log holds every record once, in order (idempotent, acks=all). The consumer commits after
      // processing, so a failover may deliver a few records again: each such delivery must be the
      // same record at the same offset, never a new copy in the log.
      const byOffset = new Map<number, number>();
      for (const d of received) {
        const [offset, value] = [Number(d.offset), Number(d.value)];
        expect(byOffset.get(offset) ?? value, `offset ${offset} delivered with two values`).toBe(value);
        byOffset.set(offset, value);
      }
      const offsets = [...byOffset.keys()].sort((a, b) => a - b);
      const expected = Array.from({ length: acked.length }, (_, i) => i);
      expect(offsets).toEqual(expected);
      expect(offsets.map((o) => byOffset.get(o))).toEqual(expected);
      const redelivered = received.length - byOffset.size;

      // What a single-broker setup gets instead: writes wait until the broker is back. Restart it and time that.
      const restartBegan = Date.now();
      await cluster.up();
      const restartMs = Date.now() - restartBegan;
      await waitFor('the restarted node back in sync', async () => ((await partitionState(topic)).isr.length === 3 ? true : undefined), 120_000, 500);

      const line = { recoveryMs, restartMs, victim, records: acked.length, newLeader: after.leader, redelivered };
      console.log(`cluster failover: ${JSON.stringify(line)}`);
      writeResult(
        'cluster-failover',
        row({
          name: 'cluster-failover',
          unit: 'ms',
          ours: recoveryMs,
          baseline: { name: 'one broker: restart the killed broker (stack up) before writes resume', value: restartMs },
          higherIsBetter: false,
          headline: true,
          params: {
            brokers: 3,
            replicationFactor: 3,
            minInsyncReplicas: 2,
            acks: 'all',
            idempotent: true,
            paceMs: PACE_MS,
            records: acked.length,
            heap: cluster.config.stack.kafkaHeap,
            brokerSessionTimeoutMs: 6000,
          },
          extra: {
            measured: 'from SIGKILL of the partition leader to the next acknowledged write; baseline: from `stack up` of the killed node to all nodes answering',
            victimNode: victim,
            newLeader: after.leader,
            lost: 0,
            duplicatedInLog: 0,
            redeliveredToConsumer: redelivered,
          },
        }),
      );
      expect(recoveryMs).toBeLessThan(30_000);
    } finally {
      subscription.unsubscribe();
      await source.close();
      await producer.disconnect();
    }
  });
});
