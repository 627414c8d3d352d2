/**
 * Signed tenant claims against the real stack: a dispatcher started with GPUFLOW_TENANT_KEYS_DIR
 * and a simulated worker, each its own process. Requests signed with their tenant's key are
 * served; a request that names acme but is signed with globex's key, and one not signed at all,
 * go to inference.requests.dlq with the reason and are never answered (the answer would reach
 * the tenant they name). A key rotated while the dispatcher runs is taken without a restart.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type GpuflowClient } from '../../src/client/client.js';
import { RequestTimeoutError } from '../../src/client/errors.js';
import type { DeadLetter, InferenceRequest } from '../../src/domain/events/index.js';
import { avroCodec, type TopicCodec } from '../../src/kafka/codecs/topic-codec.js';
import type { ConsumerSource } from '../../src/kafka/consumer-source.js';
import { createProducer, type EventProducer } from '../../src/kafka/producer.js';
import { readTenantKey } from '../../src/kafka/tenant-claim.js';
import { bootstrap } from '../../src/services/bootstrap.js';
import { rotateTenantKey } from '../../src/stack/kafka-tenants.js';
import { DEMO_MANIFEST, publishManifest } from '../../src/services/manifests.js';
import { consumeFromEnd, testConfig, testLogger, uniqueName, waitFor } from '../helpers/kafka.js';
import { children, ready } from '../helpers/processes.js';

const logger = testLogger();
const run = uniqueName('claims');
const procs = children();
const DLQ = 'inference.requests.dlq';
const keysDir = mkdtempSync(join(tmpdir(), 'gpuflow-tenant-keys-'));
const keys = { acme: randomBytes(32), globex: randomBytes(32) };

let sink: EventProducer;
let requests: TopicCodec<InferenceRequest>;
let dlqSource: ConsumerSource<DeadLetter>;
/** Dead-lettered requests by request id: the reason each went with. */
const deadLettered = new Map<string, string>();
const clients: Record<'acme' | 'globex' | 'unsigned', GpuflowClient> = {} as never;

const tensor = { dtype: 'FP32' as const, shape: [1, 64], data: new Uint8Array(256) };

beforeAll(async () => {
  for (const [tenant, key] of Object.entries(keys)) writeFileSync(join(keysDir, `${tenant}.key`), `${key.toString('hex')}\n`, { mode: 0o600 });
  const config = testConfig();
  const { kafka, registry } = await bootstrap(config, logger, { startStack: false });
  sink = await createProducer(kafka);
  await publishManifest(sink, registry, DEMO_MANIFEST);
  requests = await avroCodec(registry, 'inference.requests', 'inference-request');
  dlqSource = await consumeFromEnd(kafka, registry, sink, { groupId: `${run}-dlq`, topic: DLQ, event: 'dead-letter' }, (d) => {
    d.ack();
    const { sourceTopic, value, reason } = d.value;
    if (sourceTopic !== 'inference.requests' || !value) return;
    void Promise.resolve(requests.decode(Buffer.from(value))).then((request) => deadLettered.set(request.requestId, reason));
  });
  clients.acme = await createClient(config, logger, { signingKey: keys.acme });
  clients.globex = await createClient(config, logger, { signingKey: keys.globex });
  clients.unsigned = await createClient(config, logger);

  const env = { ...process.env, GPUFLOW_LOG: 'error', GPUFLOW_TENANT_KEYS_DIR: keysDir };
  const dispatcher = procs.gpuflow(['dispatcher', '--group', run, '--start-at-end', '--tick-ms', '200', '--stats-ms', '0'], { env });
  const worker = procs.gpuflow(['worker', '--simulate', '--id', `${run}-w1`, '--slots', '2', '--heartbeat-ms', '500']);
  await Promise.all([ready(dispatcher, 'dispatcher'), ready(worker, 'worker')]);
  // The first request waits for the worker to join.
  await waitFor('a signed request to be served', async () => {
    try {
      const out = await clients.acme.infer({ model: DEMO_MANIFEST.model, tenant: 'acme', sloClass: 'batch', deadlineMs: 5_000, tensor });
      return out.status === 'OK' || undefined;
    } catch {
      return undefined;
    }
  }, 90_000, 500);
});

afterAll(async () => {
  await procs.killAll();
  await Promise.all(Object.values(clients).map((c) => c?.close()));
  await dlqSource?.close();
  await sink?.disconnect();
  rmSync(keysDir, { recursive: true, force: true });
});

describe('signed tenant claims', () => {
  it("serves requests signed with their own tenant's key", async () => {
    const answers = await Promise.all([
      ...Array.from({ length: 10 }, () => clients.acme.infer({ model: DEMO_MANIFEST.model, tenant: 'acme', sloClass: 'interactive', deadlineMs: 5_000, tensor })),
      ...Array.from({ length: 10 }, () => clients.globex.infer({ model: DEMO_MANIFEST.model, tenant: 'globex', sloClass: 'interactive', deadlineMs: 5_000, tensor })),
    ]);
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill('OK'));
  });

  it('dead-letters a request signed with another tenant key, and one not signed, without answering them', async () => {
    const forged = `forged-${randomUUID()}`;
    const unsigned = `unsigned-${randomUUID()}`;
    const outcomes = await Promise.allSettled([
      clients.globex.infer({ requestId: forged, model: DEMO_MANIFEST.model, tenant: 'acme', sloClass: 'batch', deadlineMs: 2_000, timeoutMs: 6_000, tensor }),
      clients.unsigned.infer({ requestId: unsigned, model: DEMO_MANIFEST.model, tenant: 'acme', sloClass: 'batch', deadlineMs: 2_000, timeoutMs: 6_000, tensor }),
    ]);
    await waitFor('both on the dead-letter topic', () => (deadLettered.has(forged) && deadLettered.has(unsigned)) || undefined, 20_000);
    expect(deadLettered.get(forged)).toBe("request is not signed with tenant 'acme's key");
    expect(deadLettered.get(unsigned)).toBe("request for tenant 'acme' is not signed (header gpuflow-tenant-mac)");
    // Neither was answered: the clients gave up waiting.
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toBeInstanceOf(RequestTimeoutError);
    }
    // The dispatcher still serves signed requests afterwards.
    const after = await clients.acme.infer({ model: DEMO_MANIFEST.model, tenant: 'acme', sloClass: 'batch', deadlineMs: 5_000, tensor });
    expect(after.status).toBe('OK');
  });

  it('takes a rotated key while it runs: both keys hold during the rotation, only the new one after it', async () => {
    const file = join(keysDir, 'acme.key');
    rotateTenantKey('acme', file, { dropPrevious: false });
    const rotated = await createClient(testConfig(), logger, { signingKey: readTenantKey(file) });
    try {
      const served = async (client: GpuflowClient, requestId: string): Promise<boolean> => {
        try {
          return (await client.infer({ requestId, model: DEMO_MANIFEST.model, tenant: 'acme', sloClass: 'batch', deadlineMs: 2_000, timeoutMs: 2_500, tensor })).status === 'OK';
        } catch (error) {
          if (error instanceof RequestTimeoutError) return false;
          throw error;
        }
      };
      // The dispatcher looks at a key file again at most every 10 s.
      let attempt = 0;
      await waitFor('the new key admitted', async () => (await served(rotated, `new-${attempt++}-${randomUUID()}`)) || undefined, 30_000, 0);
      expect(await served(clients.acme, `old-${randomUUID()}`)).toBe(true);

      rotateTenantKey('acme', file, { dropPrevious: true });
      const refused = await waitFor('the previous key refused', async () => {
        const id = `old-${attempt++}-${randomUUID()}`;
        if (await served(clients.acme, id)) return undefined;
        await waitFor('its dead letter', () => deadLettered.get(id), 10_000);
        return deadLettered.get(id);
      }, 30_000, 0);
      expect(refused).toBe("request is not signed with tenant 'acme's key");
      expect(await served(rotated, `new-${randomUUID()}`)).toBe(true);
    } finally {
      await rotated.close();
    }
  });
});
