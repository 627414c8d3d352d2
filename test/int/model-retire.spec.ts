/**
 * Retiring a model against the real stack: a dispatcher and one slow one-slot simulated worker
 * (CLI processes) serve a model with a backlog queued, then the model's tombstone goes on
 * models.manifests. What waits is rejected with the reason, what runs finishes, a later request is
 * refused as for an unknown model, the worker unloads it, `models list` no longer shows it,
 * `gpuflow replay --verify` re-decides the run, tombstone included, with 0 differences, and
 * what-if retires the model in its simulation when the recording did.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type GpuflowClient } from '../../src/client/client.js';
import { RequestRejectedError } from '../../src/client/errors.js';
import { loadTensor } from '../../src/cli/commands/submit.js';
import type { ModelManifest } from '../../src/domain/events/manifest.js';
import { createProducer } from '../../src/kafka/producer.js';
import { createRegistryClient } from '../../src/kafka/registry.js';
import { bootstrap } from '../../src/services/bootstrap.js';
import { parsePolicy } from '../../src/whatif/policy.js';
import type { Scenario } from '../../src/whatif/whatif.js';
import { runWhatIf } from '../../src/whatif/whatif-run.js';
import { DEMO_MANIFEST, readLiveManifests, retireModels } from '../../src/services/manifests.js';
import { consumeFromEnd, publishTestManifest, testConfig, testKafka, testLogger, waitFor } from '../helpers/kafka.js';
import { children, gpuflowSync, kill, ready } from '../helpers/processes.js';
import { expectVerifiedReplay } from '../helpers/replay.js';

const logger = testLogger();
const procs = children();
const run = randomUUID().slice(0, 6);
const workerId = `it-retire-w-${run}`;
/** One sample per batch, so each waiting request is a batch of its own. */
const MANIFEST: ModelManifest = { ...DEMO_MANIFEST, executor: 'simulated', model: `retire-${run}`, maxBatchSize: 1, preferredBatchSizes: [] };
const RETIRED_REASON = `model ${MANIFEST.model} was retired before the request was batched`;
const tensor = loadTensor(DEMO_MANIFEST.inputShape[0]!);

let client: GpuflowClient;
let dispatcher: ChildProcess;
const range = { fromMs: 0, toMs: 0 };
/** How a request ended: OK, or REJECTED with the reason. */
type Ending = { status: 'OK' | 'REJECTED'; reason: string };
let backlog: Ending[] = [];
let after: Ending;
/** Heartbeats of the worker after the retirement, with whether they list the model. */
const listsModel: boolean[] = [];

const infer = (requestId: string): Promise<Ending> =>
  client.infer({ model: MANIFEST.model, tenant: 'acme', sloClass: 'batch', deadlineMs: 60_000, requestId, tensor: tensor({} as never, 0) }).then(
    (r) => ({ status: r.status === 'OK' ? 'OK' : 'REJECTED', reason: r.reason }),
    (error: unknown) => {
      if (error instanceof RequestRejectedError) return { status: 'REJECTED', reason: error.reason };
      throw error;
    },
  );

beforeAll(async () => {
  const config = testConfig();
  await bootstrap(config, logger, { startStack: false });
  await publishTestManifest(MANIFEST);
  client = await createClient(config, logger);
  range.fromMs = Date.now();
  dispatcher = procs.gpuflow(['dispatcher', '--group', `it-retire-${run}`, '--tick-ms', '200', '--start-at-end']);
  // About 0.4 s per batch: requests sent together wait in the dispatcher's queue, one slot at a time.
  const worker = procs.gpuflow(['worker', '--simulate', '--id', workerId, '--slots', '1', '--heartbeat-ms', '200'], {
    env: { ...process.env, GPUFLOW_LOG: 'error', GPUFLOW_SIMULATED_SLOWDOWN: `${MANIFEST.model}@1=1000` },
  });
  await Promise.all([ready(dispatcher, 'dispatcher'), ready(worker, 'worker')]);
  expect((await infer(`warm-${run}`)).status).toBe('OK');

  const kafka = testKafka();
  const registry = createRegistryClient(config.schemaRegistryUrl);
  const producer = await createProducer(kafka);
  try {
    const pending = Array.from({ length: 20 }, (_, i) => infer(`q${i}-${run}`));
    // Once the first of them is answered, the others have long reached the dispatcher.
    await Promise.race(pending);
    const heartbeats = await consumeFromEnd(kafka, registry, producer, { groupId: `it-retire-hb-${run}`, topic: 'gpu.heartbeats', event: 'heartbeat' }, (d) => {
      if (d.value.workerId === workerId) listsModel.push(d.value.loadedModels.includes(MANIFEST.model));
      d.ack();
    });
    await retireModels(producer, [MANIFEST.model]);
    backlog = await Promise.all(pending);
    after = await infer(`after-${run}`);
    await waitFor('a heartbeat without the retired model', () => (listsModel.at(-1) === false ? true : undefined), 30_000);
    await heartbeats.close();
  } finally {
    await producer.disconnect();
  }
  range.toMs = Date.now();
  await kill(dispatcher, 'SIGTERM');
}, 240_000);

afterAll(async () => {
  await client?.close();
  await procs.killAll();
});

describe('retiring a model on the real stack', () => {
  it('rejects what waited for it with the reason, and lets what ran finish', () => {
    const reasons = backlog.filter((r) => r.status !== 'OK').map((r) => r.reason);
    const served = backlog.filter((r) => r.status === 'OK').length;
    console.log('retire:', JSON.stringify({ served, retired: reasons.filter((r) => r === RETIRED_REASON).length, otherwise: reasons.filter((r) => r !== RETIRED_REASON) }));
    expect(served, JSON.stringify(reasons)).toBeGreaterThan(0);
    // Each batch takes about 0.4 s, so most of the 20 still waited when the tombstone came.
    expect(reasons.filter((r) => r === RETIRED_REASON).length, JSON.stringify(reasons)).toBeGreaterThanOrEqual(5);
    // A batch already formed may have reached the worker after it unloaded: it fails its attempts and says so.
    expect(reasons.filter((r) => r !== RETIRED_REASON).every((r) => /failed \d+ of \d+ attempts/.test(r)), JSON.stringify(reasons)).toBe(true);
  });

  it('refuses a later request as for a model it does not know', () => {
    expect(after.status).toBe('REJECTED');
    expect(after.reason).toBe(`no manifest for model ${MANIFEST.model}`);
  });

  it('the worker unloads the model, and it is no longer live', async () => {
    expect(listsModel.at(-1)).toBe(false);
    const live = await readLiveManifests(testKafka(), createRegistryClient(testConfig().schemaRegistryUrl), logger);
    expect(live.has(MANIFEST.model)).toBe(false);
    const listed = gpuflowSync(['models', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toContain(MANIFEST.model);
  });

  it('what-if retires the model when the recording did: the later request is refused in the simulation too', async () => {
    const result = await runWhatIf(testKafka(), createRegistryClient(testConfig().schemaRegistryUrl), logger, {
      from: { kind: 'time', ms: range.fromMs }, to: { kind: 'time', ms: range.toMs }, policy: parsePolicy('{}', 'empty.json'),
    });
    const later = (s: Scenario) => s.outcomes.find((o) => o.requestId === `after-${run}`)?.status;
    expect(later(result.recorded)).toBe('REJECTED');
    expect(later(result.baseline)).toBe('REJECTED');
    expect(result.baseline.outcomes.find((o) => o.requestId === `warm-${run}`)?.status).toBe('OK');
  });

  it('replay --verify re-decides the run, the retirement included, with 0 differences', () => {
    expect(expectVerifiedReplay(range.fromMs, range.toMs)).toBeGreaterThan(20);
  });
});
