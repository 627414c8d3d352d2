/**
 * Tenants on a secured local Kafka. A tenant is a SCRAM user (SCRAM-SHA-512) whose ACLs let it
 * write requests to `inference.requests`, read its own results topic `inference.results.TENANT`,
 * and use consumer groups named `TENANT.…`; nothing else (the brokers deny what no ACL allows).
 * The stack's super user provisions them: the credential through Kafka's own ConfigCommand (kafkajs
 * has no API for SCRAM credentials), the topic and ACLs through kafkajs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Secret, STACK_KAFKA_ADMIN, stackKafkaSecretsDir, stackKafkaTlsDir, TENANT_NAME, type Config } from '../config.js';
import { ConfigError, StackError } from '../domain/errors.js';
import { createKafka, type Kafka } from '../kafka/client.js';
import { createTopicsAndWait } from '../kafka/create-topics.js';
import { readTenantKeys } from '../kafka/tenant-claim.js';
import { loadTopicSpecs, topicSpec } from '../kafka/topics.js';
import type { Logger } from '../log.js';
import { newPassword, PASSWORD_PATTERN, redact, stackAdminPassword, writePrivate } from './kafka-secrets.js';
import { kafkaRuntime } from './kafka.js';
import { runTool, sleep } from './process.js';

/**
 * Kafka's wire codes for ACL bindings (org.apache.kafka.common.resource.ResourceType, PatternType,
 * acl.AclOperation, acl.AclPermissionType); kafkajs's enums carry the same numbers.
 */
const RESOURCE_TYPE = { topic: 2, group: 3 } as const;
const PATTERN_TYPE = { literal: 3, prefixed: 4 } as const;
const OPERATION = { read: 3, write: 4, describe: 8 } as const;
const PERMISSION_ALLOW = 3;
/** kafkajs's logLevel.NOTHING. */
const LOG_NOTHING = 0;

export { TENANT_NAME };
export const REQUESTS_TOPIC = 'inference.requests';
/** Every tenant's results, for the platform's projections; no tenant is granted anything on it. */
export const SHARED_RESULTS_TOPIC = 'inference.results';
export const tenantResultsTopic = (tenant: string): string => `inference.results.${tenant}`;
/** Consumer groups a tenant may use start with this. */
export const tenantGroupPrefix = (tenant: string): string => `${tenant}.`;

/** One ACL binding, as plain data (what `addKafkaTenant` grants, and what tests compare). */
export interface TenantAcl {
  resourceType: 'topic' | 'group';
  resourceName: string;
  pattern: 'literal' | 'prefixed';
  operation: 'write' | 'read' | 'describe';
}

/** Exactly what a tenant is allowed: everything else is denied. */
export function tenantAcls(tenant: string): TenantAcl[] {
  return [
    { resourceType: 'topic', resourceName: REQUESTS_TOPIC, pattern: 'literal', operation: 'write' },
    { resourceType: 'topic', resourceName: REQUESTS_TOPIC, pattern: 'literal', operation: 'describe' },
    { resourceType: 'topic', resourceName: tenantResultsTopic(tenant), pattern: 'literal', operation: 'read' },
    { resourceType: 'topic', resourceName: tenantResultsTopic(tenant), pattern: 'literal', operation: 'describe' },
    { resourceType: 'group', resourceName: tenantGroupPrefix(tenant), pattern: 'prefixed', operation: 'read' },
  ];
}

function checkTenant(tenant: string): void {
  if (!TENANT_NAME.test(tenant)) throw new ConfigError(`tenant name '${tenant}' must match ${TENANT_NAME} (lower-case letters, digits, '_' and '-')`);
}

/** A kafkajs client that is the stack's super user, whatever KAFKA_SASL_* the caller has. */
export function stackAdminKafka(config: Config, logger: Logger): Kafka {
  if (config.stack.kafkaSecurity !== 'sasl_ssl' || config.external.kafka) {
    throw new ConfigError('tenants are provisioned on a secured local stack only (GPUFLOW_KAFKA_SECURITY=sasl_ssl, no KAFKA_BROKERS)');
  }
  return createKafka(
    {
      ...config,
      kafkaSecurity: {
        sasl: { mechanism: 'scram-sha-512', username: STACK_KAFKA_ADMIN, password: new Secret(() => stackAdminPassword(config.home), 'stack super user') },
        ssl: { caFile: join(stackKafkaTlsDir(config.home), 'ca.pem'), certFile: null, keyFile: null },
      },
    },
    logger,
  );
}

/**
 * Sets (a password) or deletes (null) a SCRAM-SHA-512 credential with Kafka's ConfigCommand. The
 * passwords travel in files (mode 0600, removed afterwards), never in arguments or logs.
 */
async function alterScramCredential(config: Config, logger: Logger, user: string, password: string | null): Promise<void> {
  const { java, classpath } = await kafkaRuntime(config, logger);
  const dir = stackKafkaSecretsDir(config.home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stamp = `${process.pid}-${Date.now()}`;
  const clientFile = join(dir, `admin-client-${stamp}.properties`);
  const credentialFile = join(dir, `credential-${stamp}.properties`);
  const adminPassword = stackAdminPassword(config.home);
  writePrivate(
    clientFile,
    [
      'security.protocol=SASL_SSL',
      'sasl.mechanism=SCRAM-SHA-512',
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${STACK_KAFKA_ADMIN}" password="${adminPassword}";`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${join(stackKafkaTlsDir(config.home), 'ca.pem')}`,
      '',
    ].join('\n'),
  );
  // In a file the value goes without the brackets that --add-config wants.
  if (password !== null) writePrivate(credentialFile, `SCRAM-SHA-512=iterations=8192,password=${password}\n`);
  const change = password !== null
    ? { what: 'set', args: ['--add-config-file', credentialFile], secrets: [password, adminPassword] }
    : { what: 'delete', args: ['--delete-config', 'SCRAM-SHA-512'], secrets: [adminPassword] };
  try {
    await runTool(
      java,
      [
        '-Xmx128m',
        '-XX:TieredStopAtLevel=1',
        '-cp',
        classpath,
        '-Dlog4j2.rootLogger.level=WARN',
        'kafka.admin.ConfigCommand',
        '--bootstrap-server',
        config.kafkaBrokers.join(','),
        '--command-config',
        clientFile,
        '--alter',
        '--entity-type',
        'users',
        '--entity-name',
        user,
        ...change.args,
      ],
      { timeoutMs: 120_000 },
    );
  } catch (cause) {
    // The tool's own output follows the first ':\n' (before it, the whole command line and classpath).
    const message = (cause as Error).message;
    const output = message.slice(message.indexOf(':\n') + 2) || message;
    throw new StackError('kafka', `could not ${change.what} the SCRAM credential of '${user}': ${redact(output, change.secrets)}`, 'is the secured stack up? (gpuflow stack up)');
  } finally {
    rmSync(clientFile, { force: true });
    rmSync(credentialFile, { force: true });
  }
}

/** Until the brokers have replayed the new credential, a login with it fails: wait until one succeeds. */
async function awaitLogin(config: Config, logger: Logger, user: string, password: string): Promise<void> {
  const kafka = createKafka(
    { ...config, kafkaSecurity: { sasl: { mechanism: 'scram-sha-512', username: user, password: new Secret(() => password, user) }, ssl: { caFile: join(stackKafkaTlsDir(config.home), 'ca.pem'), certFile: null, keyFile: null } } },
    logger.child({ quiet: true }),
    { retry: { retries: 0 }, logLevel: LOG_NOTHING },
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.disconnect();
      return;
    } catch (error) {
      await admin.disconnect().catch(() => undefined);
      if (Date.now() > deadline) throw new StackError('kafka', `'${user}' still cannot log in 30 s after its credential was set: ${(error as Error).message}`);
      await sleep(250);
    }
  }
}

export interface TenantCredentials {
  tenant: string;
  username: string;
  /** Generated when not given. */
  password: Secret;
  resultsTopic: string;
  groupPrefix: string;
  /** The tenant's signing key (kept when it exists): its clients sign requests with it, dispatchers check them. */
  keyFile: string;
}

/**
 * Creates (or updates) a tenant: its SCRAM credential, its results topic (declared like
 * inference.results, replicated like the cluster) and its ACLs. Idempotent; a second call with a
 * new password changes the password. The password: `password`, else `passwordFile`'s (generated
 * into it when the file does not exist), else a new one.
 */
export async function addKafkaTenant(config: Config, logger: Logger, tenant: string, options: { password?: string; passwordFile?: string } = {}): Promise<TenantCredentials> {
  checkTenant(tenant);
  const kafka = stackAdminKafka(config, logger);
  const password = options.password ?? (options.passwordFile ? tenantPasswordFromFile(options.passwordFile) : newPassword());
  if (!PASSWORD_PATTERN.test(password)) throw new ConfigError(`a tenant password must match ${PASSWORD_PATTERN}`);
  const resultsTopic = tenantResultsTopic(tenant);
  await alterScramCredential(config, logger, tenant, password);
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(resultsTopic)) {
      const spec = topicSpec(loadTopicSpecs(undefined, config.topicReplication), SHARED_RESULTS_TOPIC);
      await createTopicsAndWait(admin, [
        {
          topic: resultsTopic,
          numPartitions: spec.partitions,
          replicationFactor: config.topicReplication ?? Math.min(3, config.stack.kafkaBrokerCount),
          configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })),
        },
      ]);
    }
    await admin.createAcls({
      acl: tenantAcls(tenant).map((acl) => ({
        resourceType: RESOURCE_TYPE[acl.resourceType],
        resourceName: acl.resourceName,
        resourcePatternType: PATTERN_TYPE[acl.pattern],
        principal: `User:${tenant}`,
        host: '*',
        operation: OPERATION[acl.operation],
        permissionType: PERMISSION_ALLOW,
      })),
    });
  } finally {
    await admin.disconnect();
  }
  await awaitLogin(config, logger, tenant, password);
  const keyFile = ensureTenantKey(tenantKeyFile(config.home, tenant));
  logger.info('stack.kafka.tenant', { tenant, resultsTopic, groupPrefix: tenantGroupPrefix(tenant), keyFile });
  return { tenant, username: tenant, password: new Secret(() => password, `tenant ${tenant}`), resultsTopic, groupPrefix: tenantGroupPrefix(tenant), keyFile };
}

/** kafkajs's ANY in ACL filters (resource type, pattern type, operation, permission). */
const ACL_ANY = 1;

export interface RemovedTenant {
  /** ACL bindings deleted (every one naming the tenant's principal). */
  acls: number;
  /** The results topic deleted, or null when kept or not there. */
  topic: string | null;
  /** The tenant's files under GPUFLOW_HOME that were removed (its key, and its password where the stack kept it). */
  files: string[];
}

/**
 * Removes a tenant: its SCRAM credential (a login with it is refused once the brokers have
 * replayed the change; connections already open stay until they reconnect), every ACL binding of
 * its principal, its results topic unless `keepTopic`, and its key and password files under
 * GPUFLOW_HOME (dispatchers stop admitting its requests within their key recheck interval).
 */
export async function removeKafkaTenant(config: Config, logger: Logger, tenant: string, options: { keepTopic: boolean }): Promise<RemovedTenant> {
  checkTenant(tenant);
  const admin = stackAdminKafka(config, logger).admin();
  await alterScramCredential(config, logger, tenant, null);
  await admin.connect();
  let acls = 0;
  let topic: string | null = null;
  try {
    const deleted = await admin.deleteAcls({
      filters: [{ resourceType: ACL_ANY, resourcePatternType: ACL_ANY, principal: `User:${tenant}`, operation: ACL_ANY, permissionType: ACL_ANY }],
    });
    acls = deleted.filterResponses.reduce((n, r) => n + r.matchingAcls.length, 0);
    const resultsTopic = tenantResultsTopic(tenant);
    if (!options.keepTopic && (await admin.listTopics()).includes(resultsTopic)) {
      await admin.deleteTopics({ topics: [resultsTopic] });
      topic = resultsTopic;
    }
  } finally {
    await admin.disconnect();
  }
  const files = [tenantKeyFile(config.home, tenant), tenantPasswordFile(config.home, tenant)].filter((f) => existsSync(f));
  for (const f of files) rmSync(f);
  logger.info('stack.kafka.tenant_removed', { tenant, acls, topic, files });
  return { acls, topic, files };
}

/** The folder of the stack's tenant files: a dispatcher checks requests against the keys in it (GPUFLOW_TENANT_KEYS_DIR). */
export const tenantFilesDir = (home: string): string => join(home, 'kafka', 'tenants');
export const tenantKeyFile = (home: string, tenant: string): string => join(tenantFilesDir(home), `${tenant}.key`);

/** Generates a tenant key (32 random bytes, hex, mode 0600) into `file` unless one is there; returns the file. */
export function ensureTenantKey(file: string): string {
  if (existsSync(file)) return file;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writePrivate(file, `${randomBytes(32).toString('hex')}\n`);
  return file;
}

/**
 * Rotates the tenant's signing key in `file`: a new key goes first (clients started from now on
 * sign with it) and the previous first key stays below it, so dispatchers, which re-read the file
 * within their recheck interval, admit both while clients move over. Older keys are dropped. With
 * `dropPrevious` no key is made and only the first is kept: the end of a rotation. The file is
 * replaced in one rename. Returns the keys the file now holds.
 */
export function rotateTenantKey(tenant: string, file: string, options: { dropPrevious: boolean }): number {
  checkTenant(tenant);
  if (!existsSync(file)) throw new ConfigError(`tenant ${tenant} has no signing key file ${file}: 'gpuflow stack tenant add ${tenant}' makes one`);
  const [current] = readTenantKeys(file);
  const keys = options.dropPrevious ? [current!] : [randomBytes(32), current!];
  const next = `${file}.next`;
  writePrivate(next, keys.map((k) => `${k.toString('hex')}\n`).join(''));
  renameSync(next, file);
  return keys.length;
}

/** Where `gpuflow stack tenant add` keeps a tenant's password unless told otherwise. */
export const tenantPasswordFile = (home: string, tenant: string): string => join(tenantFilesDir(home), `${tenant}.password`);

/**
 * A tenant's password from a file (its first line); when the file does not exist, a new password
 * is generated into it (mode 0600, folder 0700), so running the command again keeps the password.
 */
export function tenantPasswordFromFile(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const password = newPassword();
    writePrivate(file, `${password}\n`);
    return password;
  }
  try {
    return readFileSync(file, 'utf8').split('\n')[0]!.trim();
  } catch (cause) {
    throw new ConfigError(`cannot read the tenant password from ${file}`, { cause });
  }
}
