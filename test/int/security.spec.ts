/**
 * A broker started by the stack with GPUFLOW_KAFKA_SECURITY=sasl_ssl: SASL/SCRAM-SHA-512 over TLS,
 * StandardAuthorizer ACLs, two tenants provisioned through the stack. Tenant clients are configured
 * the way a user configures them (KAFKA_SASL_* and KAFKA_SSL_CA_FILE) and use the project's producer
 * and consumer source: each writes requests and reads only its own results; everything else is
 * refused by the broker; and no password shows up in any log the broker or the clients wrote.
 * End to end: a dispatcher and a simulated worker with the platform's credentials and per-tenant
 * result topics serve tenant A's client on A's own topic, which tenant B cannot read; a result for
 * a tenant without a topic is kept on the shared topic and dead-lettered with the reason.
 * (The schema registry is the shared test stack's: it has no authentication of its own.)
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { filter, firstValueFrom, take, timeout, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/client/client.js';
import { loadConfig, STACK_KAFKA_ADMIN, stackKafkaSecretsDir, stackKafkaTlsDir, type Config } from '../../src/config.js';
import { ValidationError } from '../../src/domain/errors.js';
import type { InferenceResult } from '../../src/domain/events/index.js';
import { createKafka, type Kafka } from '../../src/kafka/client.js';
import { avroCodec } from '../../src/kafka/codecs/topic-codec.js';
import { consume } from '../../src/kafka/consumer-source.js';
import { createProducer } from '../../src/kafka/producer.js';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { applyTopics } from '../../src/kafka/topics-admin.js';
import { loadTopicSpecs } from '../../src/kafka/topics.js';
import { createLogger, type Logger } from '../../src/log.js';
import { executorFactory, openDevices } from '../../src/services/devices.js';
import { startDispatcher } from '../../src/services/dispatcher.js';
import { DEMO_MANIFEST, publishManifest } from '../../src/services/manifests.js';
import { startWorker } from '../../src/services/worker.js';
import { stackStatus } from '../../src/stack/index.js';
import { addKafkaTenant, removeKafkaTenant, REQUESTS_TOPIC, SHARED_RESULTS_TOPIC, stackAdminKafka, tenantAcls, type TenantCredentials } from '../../src/stack/kafka-tenants.js';
import { kafkaAnswers, kafkaNodeAnswers } from '../../src/stack/kafka.js';
import { startLocalCluster, type LocalCluster } from '../helpers/cluster.js';
import { readAll, uniqueName, waitFor } from '../helpers/kafka.js';

let cluster: LocalCluster;
let clientLog: string;
let clientLogger: Logger;
let tenantA: TenantCredentials;
let tenantB: TenantCredentials;
const WRONG_PASSWORD = 'not-the-password-of-tenant-a-0451';
/** The password of the tenant the removal test adds and removes. */
let removedPassword = '';

/** The shared test stack's registry (the secured cluster runs Kafka only). */
const registryUrl = (): string => loadConfig(process.env).schemaRegistryUrl;

/** A tenant's client, configured from the environment variables a user sets. */
function tenantConfig(username: string, password: string, extra: Record<string, string> = {}): Config {
  return loadConfig({
    KAFKA_BROKERS: cluster.config.kafkaBrokers.join(','),
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SASL_USERNAME: username,
    KAFKA_SASL_PASSWORD: password,
    KAFKA_SSL_CA_FILE: join(stackKafkaTlsDir(cluster.config.home), 'ca.pem'),
    GPUFLOW_CLIENT_ID: `security-spec-${username}`,
    ...extra,
  });
}

const tenantKafka = (tenant: TenantCredentials, password = tenant.password.reveal()): Kafka =>
  createKafka(tenantConfig(tenant.username, password), clientLogger.child({ tenant: tenant.tenant }));

const clientLogLines = (pattern: RegExp): number => readFileSync(clientLog, 'utf8').split('\n').filter((line) => pattern.test(line)).length;

/** The broker's error type (TOPIC_AUTHORIZATION_FAILED, ...) wherever kafkajs wrapped it. */
function errorTypes(error: unknown): string[] {
  const types: string[] = [];
  for (let e = error as { type?: string; name?: string; message?: string; cause?: unknown; originalError?: unknown } | undefined; e; e = (e.cause ?? e.originalError) as typeof e) {
    types.push(String(e.type ?? e.name), String(e.message));
  }
  return types;
}

async function refusal(run: () => Promise<unknown>): Promise<string> {
  const outcome = await run().then(
    () => 'accepted',
    (error: unknown) => errorTypes(error).join(' | '),
  );
  return outcome;
}

beforeAll(async () => {
  cluster = await startLocalCluster({ name: 'security', brokers: 1, portOffset: 400, security: 'sasl_ssl' });
  clientLog = join(cluster.config.home, 'logs', 'clients.log');
  mkdirSync(join(cluster.config.home, 'logs'), { recursive: true });
  // Every client line at debug level goes to a file that the last test searches for secrets.
  clientLogger = createLogger({ scope: 'security-spec' }, 'debug', (line) => appendFileSync(clientLog, `${line}\n`));
  // Every declared topic, as `gpuflow topics apply` would (the pipeline test below needs them all).
  await applyTopics(stackAdminKafka(cluster.config, clientLogger), loadTopicSpecs(undefined, cluster.config.topicReplication));
  tenantA = await addKafkaTenant(cluster.config, clientLogger, 'tenant-a');
  tenantB = await addKafkaTenant(cluster.config, clientLogger, 'tenant-b');
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
}, 120_000);

describe('a SASL_SSL broker with tenant ACLs', () => {
  it('runs with TLS only: a plaintext ApiVersions gets no answer, one over TLS does', async () => {
    const [node] = cluster.nodes;
    expect(await kafkaAnswers('127.0.0.1', node!.port)).toBe(false);
    expect(await kafkaNodeAnswers(cluster.config, node!)).toBe(true);
    expect((await stackStatus(cluster.config)).find((s) => s.name === 'kafka')).toMatchObject({ state: 'running', pid: expect.any(Number) });
  });

  it('keeps keys, passwords and the generated properties readable by their owner only', () => {
    const tls = stackKafkaTlsDir(cluster.config.home);
    for (const file of [join(tls, 'ca.key'), join(tls, 'node.key'), join(tls, 'node-keystore.pem'), join(stackKafkaSecretsDir(cluster.config.home), `${STACK_KAFKA_ADMIN}.password`), cluster.nodes[0]!.propertiesFile]) {
      expect(statSync(file).mode & 0o077, file).toBe(0);
    }
    // Provisioning leaves no credential files behind.
    expect(readdirSync(stackKafkaSecretsDir(cluster.config.home))).toEqual([`${STACK_KAFKA_ADMIN}.password`]);
  });

  it('grants a tenant exactly: write requests, read its results topic, use its own groups', () => {
    expect(tenantAcls('tenant-a')).toEqual([
      { resourceType: 'topic', resourceName: 'inference.requests', pattern: 'literal', operation: 'write' },
      { resourceType: 'topic', resourceName: 'inference.requests', pattern: 'literal', operation: 'describe' },
      { resourceType: 'topic', resourceName: 'inference.results.tenant-a', pattern: 'literal', operation: 'read' },
      { resourceType: 'topic', resourceName: 'inference.results.tenant-a', pattern: 'literal', operation: 'describe' },
      { resourceType: 'group', resourceName: 'tenant-a.', pattern: 'prefixed', operation: 'read' },
    ]);
    expect(tenantA.resultsTopic).toBe('inference.results.tenant-a');
    expect(JSON.stringify(tenantA)).not.toContain(tenantA.password.reveal());
  });

  it("lets tenant A produce a request and read A's results", { timeout: 120_000 }, async () => {
    const producer = await createProducer(tenantKafka(tenantA));
    try {
      await producer.send(REQUESTS_TOPIC, [{ key: 'model-x', value: Buffer.from('request from tenant-a') }]);
    } finally {
      await producer.disconnect();
    }
    // The worker (the stack's super user here) publishes the tenant's result.
    const workerProducer = await createProducer(stackAdminKafka(cluster.config, clientLogger));
    try {
      await workerProducer.send(tenantA.resultsTopic, [{ key: 'tenant-a', value: Buffer.from('result for tenant-a') }]);
    } finally {
      await workerProducer.disconnect();
    }
    const source = consume(tenantKafka(tenantA), {
      groupId: `${tenantA.groupPrefix}${uniqueName('results')}`,
      topics: [tenantA.resultsTopic],
      decode: async (value) => value.toString('utf8'),
      deadLetters: { send: async (entry) => Promise.reject(new Error(`unexpected dead letter: ${entry.reason}`)) },
      logger: clientLogger,
      fromBeginning: true,
    });
    try {
      const [delivery] = await firstValueFrom(source.deliveries$.pipe(take(1), timeout(60_000), toArray()));
      expect(delivery!.value).toBe('result for tenant-a');
      delivery!.ack();
    } finally {
      await source.close();
    }
  });

  it("refuses tenant A on tenant B's results topic with an authorization error", { timeout: 60_000 }, async () => {
    const source = consume(tenantKafka(tenantA), {
      groupId: `${tenantA.groupPrefix}${uniqueName('steal')}`,
      topics: [tenantB.resultsTopic],
      decode: async (value) => value.toString('utf8'),
      deadLetters: { send: async () => undefined },
      logger: clientLogger,
      fromBeginning: true,
    });
    try {
      const outcome = await refusal(() => firstValueFrom(source.deliveries$.pipe(timeout(45_000))));
      expect(outcome).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
    } finally {
      await source.close();
    }
  });

  it("refuses tenant A what its ACLs do not grant: others' requests, writing results, B's groups", { timeout: 60_000 }, async () => {
    const kafka = tenantKafka(tenantA);
    const admin = kafka.admin();
    await admin.connect();
    try {
      // A group outside A's prefix. kafkajs turns the broker's refusal of FindCoordinator into "coordinator
      // not found"; the broker's reason is in the response it logged.
      const refusedBefore = clientLogLines(/GroupCoordinator.*Group authorization failed/);
      expect(await refusal(() => admin.fetchOffsets({ groupId: `${tenantB.groupPrefix}reader`, topics: [tenantA.resultsTopic] }))).toMatch(/GroupCoordinatorNotFound/);
      expect(clientLogLines(/GroupCoordinator.*Group authorization failed/)).toBeGreaterThan(refusedBefore);
    } finally {
      await admin.disconnect();
    }
    // Requests of every tenant: A may write there and see the topic, but a fetch needs READ.
    const peek = consume(kafka, {
      groupId: `${tenantA.groupPrefix}${uniqueName('peek')}`,
      topics: [REQUESTS_TOPIC],
      decode: async (value) => value.toString('utf8'),
      deadLetters: { send: async () => undefined },
      logger: clientLogger,
      fromBeginning: true,
    });
    try {
      expect(await refusal(() => firstValueFrom(peek.deliveries$.pipe(timeout(45_000))))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
    } finally {
      await peek.close();
    }
    const producer = await createProducer(kafka);
    try {
      expect(await refusal(() => producer.send(tenantA.resultsTopic, [{ key: 'forged', value: Buffer.from('forged result') }]))).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  });

  it('refuses a wrong password and a client without credentials', { timeout: 60_000 }, async () => {
    const wrong = createKafka(tenantConfig(tenantA.username, WRONG_PASSWORD), clientLogger, { retry: { retries: 0 } }).admin();
    expect(await refusal(() => wrong.connect())).toMatch(/SASL|authentication failed/i);
    await wrong.disconnect().catch(() => undefined);
    const anonymous = createKafka(
      loadConfig({ KAFKA_BROKERS: cluster.config.kafkaBrokers.join(','), KAFKA_SSL_CA_FILE: join(stackKafkaTlsDir(cluster.config.home), 'ca.pem') }),
      clientLogger,
      { retry: { retries: 0 }, connectionTimeout: 5_000, requestTimeout: 5_000 },
    ).admin();
    expect(await refusal(() => anonymous.listTopics())).not.toBe('accepted');
    await anonymous.disconnect().catch(() => undefined);
  });

  it("serves tenant A's request end to end on A's own topic, which tenant B cannot read", { timeout: 180_000 }, async () => {
    // The platform: the stack's super user, per-tenant result topics on.
    const platform: Config = { ...cluster.config, schemaRegistryUrl: registryUrl(), tenantResultTopics: true };
    const kafka = stackAdminKafka(platform, clientLogger);
    const registry = createRegistryClient(platform.schemaRegistryUrl);
    const model = uniqueName('tenant-mlp');
    const producer = await createProducer(kafka);
    await publishManifest(producer, registry, { ...DEMO_MANIFEST, model, maxQueueDelayMs: 20 });
    await producer.disconnect();
    const dispatcher = await startDispatcher(kafka, registry, clientLogger, { groupId: uniqueName('tenant-dispatcher'), tickMs: 100, maxInFlightRequests: 100, sessionTimeoutMs: 6_000, startAtEnd: true, tenantResultTopics: true });
    const workerId = uniqueName('tenant-w');
    const joined = firstValueFrom(dispatcher.decisions$.pipe(filter((e) => e.type === 'WorkerJoined' && e.workerId === workerId)));
    const devices = openDevices({ simulate: true, count: 1, type: 'H100', node: workerId }, clientLogger);
    const worker = await startWorker(kafka, registry, platform, clientLogger, {
      workerId, slots: 2, heartbeatMs: 200, telemetryMs: 0, inventory: devices.inventory,
      executorFor: executorFactory(devices, { modelStore: platform.modelStore, type: 'H100', seed: 1 }),
    });
    const tensor = { dtype: 'FP32' as const, shape: [1, 64], data: new Uint8Array(64 * 4) };
    try {
      await joined;
      // Tenant A's client, configured as a tenant configures it: its credentials and GPUFLOW_TENANT.
      const clientA = await createClient(
        tenantConfig(tenantA.username, tenantA.password.reveal(), { GPUFLOW_TENANT: tenantA.tenant, GPUFLOW_TENANT_RESULT_TOPICS: 'true', SCHEMA_REGISTRY_URL: platform.schemaRegistryUrl }),
        clientLogger,
      );
      let answer: InferenceResult;
      try {
        const seen: InferenceResult[] = [];
        const sub = clientA.results$.subscribe((r) => seen.push(r));
        answer = await clientA.infer({ model, tenant: tenantA.tenant, sloClass: 'batch', deadlineMs: 30_000, tensor });
        expect(answer).toMatchObject({ status: 'OK', tenant: 'tenant-a', model, workerId });
        // Everything A's client read came from A's topic and is A's.
        expect(seen.map((r) => r.tenant)).toEqual(['tenant-a']);
        sub.unsubscribe();
        // A tenant's client cannot send for another tenant (its results would go where it cannot read).
        await expect(clientA.infer({ model, tenant: tenantB.tenant, sloClass: 'batch', deadlineMs: 30_000, tensor })).rejects.toBeInstanceOf(ValidationError);
      } finally {
        await clientA.close();
      }
      // The shared topic has the same answer for the platform's projections; B's topic has nothing.
      const resultCodec = await avroCodec(registry, SHARED_RESULTS_TOPIC, 'inference-result');
      const shared = await Promise.all((await readAll(kafka, SHARED_RESULTS_TOPIC, 1)).map((m) => resultCodec.decode(m.value!)));
      expect(shared.filter((r) => r.requestId === answer.requestId)).toHaveLength(1);
      const admin = kafka.admin();
      await admin.connect();
      try {
        const offsets = await admin.fetchTopicOffsets(tenantB.resultsTopic);
        expect(offsets.length).toBeGreaterThan(0);
        expect(offsets.filter((p) => p.high !== '0')).toEqual([]);
      } finally {
        await admin.disconnect();
      }
      // Tenant B, with its own credentials and a group of its own, is refused A's topic.
      const stealing = await refusal(() =>
        createClient(tenantConfig(tenantB.username, tenantB.password.reveal(), { GPUFLOW_TENANT: tenantB.tenant, SCHEMA_REGISTRY_URL: platform.schemaRegistryUrl }), clientLogger, {
          resultsTopic: tenantA.resultsTopic,
        }).then((client) => client.close()),
      );
      expect(stealing).toMatch(/TOPIC_AUTHORIZATION_FAILED/);

      // A tenant with no results topic: the platform's client (shared topic) gets its answer, and
      // inference.results.dlq keeps the result with the reason it could not reach the tenant.
      const platformClient = await createClient(platform, clientLogger);
      try {
        const ghost = await platformClient.infer({ model, tenant: 'ghost', sloClass: 'batch', deadlineMs: 30_000, tensor });
        expect(ghost).toMatchObject({ status: 'OK', tenant: 'ghost' });
        const dlqCodec = await avroCodec(registry, 'inference.results.dlq', 'dead-letter');
        const dead = await Promise.all((await readAll(kafka, 'inference.results.dlq', 1)).map((m) => dlqCodec.decode(m.value!)));
        expect(dead).toHaveLength(1);
        expect(dead[0]).toMatchObject({ sourceTopic: SHARED_RESULTS_TOPIC, errorClass: 'UndeliverableResult', reason: expect.stringMatching(/results topic 'inference\.results\.ghost' does not exist/) });
        expect((await resultCodec.decode(Buffer.from(dead[0]!.value!))).requestId).toBe(ghost.requestId);
      } finally {
        await platformClient.close();
      }
    } finally {
      await worker.stop();
      await dispatcher.stop();
      devices.inventory.close();
    }
  });

  it('removes a tenant: its login is refused, its ACLs, results topic and key file are gone, the other tenants untouched', { timeout: 180_000 }, async () => {
    const tenantC = await addKafkaTenant(cluster.config, clientLogger, 'tenant-c');
    removedPassword = tenantC.password.reveal();
    const admin = stackAdminKafka(cluster.config, clientLogger).admin();
    await admin.connect();
    try {
      const aclsOf = async (tenant: string): Promise<number> =>
        (await admin.describeAcls({ resourceType: 1, resourcePatternType: 1, principal: `User:${tenant}`, operation: 1, permissionType: 1 })).resources.reduce((n, r) => n + r.acls.length, 0);
      expect(await aclsOf('tenant-c')).toBe(tenantAcls('tenant-c').length);
      expect(await removeKafkaTenant(cluster.config, clientLogger, 'tenant-c', { keepTopic: false })).toEqual({ acls: tenantAcls('tenant-c').length, topic: 'inference.results.tenant-c', files: [tenantC.keyFile] });
      expect(await aclsOf('tenant-c')).toBe(0);
      expect(await aclsOf('tenant-a')).toBe(tenantAcls('tenant-a').length);
      const topics = await admin.listTopics();
      expect(topics).not.toContain('inference.results.tenant-c');
      expect(topics).toContain(tenantA.resultsTopic);
      expect(existsSync(tenantC.keyFile)).toBe(false);
      expect(existsSync(tenantA.keyFile)).toBe(true);
    } finally {
      await admin.disconnect();
    }
    // The brokers replay the deleted credential: a new login with it is refused from then on.
    const login = (tenant: TenantCredentials) => refusal(async () => {
      const a = createKafka(tenantConfig(tenant.username, tenant.password.reveal()), clientLogger, { retry: { retries: 0 } }).admin();
      try {
        await a.connect();
      } finally {
        await a.disconnect().catch(() => undefined);
      }
    });
    const refused = await waitFor('a refused login', async () => {
      const outcome = await login(tenantC);
      return outcome === 'accepted' ? undefined : outcome;
    }, 30_000, 500);
    expect(refused).toMatch(/SASL|authentication failed/i);
    expect(await login(tenantA)).toBe('accepted');
  });

  it('writes no password or tenant key into any log under GPUFLOW_HOME', () => {
    const logs = join(cluster.config.home, 'logs');
    const files = readdirSync(logs).map((f) => join(logs, f));
    expect(files.map((f) => f.slice(logs.length + 1)).sort()).toEqual(['clients.log', 'kafka.log']);
    const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    // The logs did record the events around the secrets, so the search below is a real one.
    expect(text).toMatch(/Failed authentication with .*invalid credentials with SASL mechanism SCRAM-SHA-512/);
    expect(text).toContain('stack.kafka.tenant');
    expect(text).toContain(`SASL_SSL://127.0.0.1:${cluster.nodes[0]!.port}`);
    const adminPassword = readFileSync(join(stackKafkaSecretsDir(cluster.config.home), `${STACK_KAFKA_ADMIN}.password`), 'utf8').trim();
    for (const secret of [adminPassword, tenantA.password.reveal(), tenantB.password.reveal(), removedPassword, WRONG_PASSWORD]) {
      expect(secret.length).toBeGreaterThanOrEqual(12);
      expect(text.includes(secret), 'a password appears in a log').toBe(false);
    }
    // Each tenant got a signing key of its own, private to its owner and in no log.
    const signingKeys = [tenantA, tenantB].map((t) => {
      expect(statSync(t.keyFile).mode & 0o777).toBe(0o600);
      return readFileSync(t.keyFile, 'utf8').trim();
    });
    for (const key of signingKeys) {
      expect(key).toMatch(/^[0-9a-f]{64}$/);
      expect(text.includes(key), 'a tenant key appears in a log').toBe(false);
    }
    expect(signingKeys[0]).not.toBe(signingKeys[1]);
  });
});
