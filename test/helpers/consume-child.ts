/**
 * A consumer in its own process, for crash tests: it joins GROUP on TOPIC, prints one JSON line
 * per delivery, and acks only if ACK=1. The test kills it with SIGKILL.
 */
import { consume } from '../../src/kafka/consumer-source.js';
import { testKafka, testLogger } from './kafka.js';

const [topic, groupId] = process.argv.slice(2) as [string, string];
const source = consume(testKafka(), {
  groupId,
  sessionTimeoutMs: 6000,
  topics: [topic],
  fromBeginning: true,
  decode: async (bytes) => bytes.toString('utf8'),
  deadLetters: { send: async () => undefined },
  logger: testLogger(),
});
source.deliveries$.subscribe((d) => {
  process.stdout.write(JSON.stringify({ offset: d.offset, value: d.value }) + '\n');
  if (process.env.ACK === '1') d.ack();
});
