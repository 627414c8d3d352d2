/**
 * What a secured local Kafka needs before it starts: a private CA and one node certificate made
 * with openssl (under $GPUFLOW_HOME/kafka/tls), and the stack super user's password (under
 * $GPUFLOW_HOME/kafka/secrets). Both are made once and kept; keys and passwords are mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { STACK_KAFKA_ADMIN, stackKafkaSecretsDir, stackKafkaTlsDir } from '../config.js';
import { StackError } from '../domain/errors.js';
import { runTool, which } from './process.js';

/** The subject of the node certificate; controllers accept it (mutual TLS) as a super user. */
export const NODE_CERT_SUBJECT = 'CN=gpuflow-node';
export const NODE_PRINCIPAL = `User:${NODE_CERT_SUBJECT}`;

export interface KafkaTlsFiles {
  /** PEM: the CA certificate clients trust. */
  caFile: string;
  /** PEM: the node's unencrypted PKCS#8 key followed by its certificate (Kafka's PEM key store). */
  nodeKeyStore: string;
}

/** SCRAM passwords go into Kafka tool arguments and JAAS lines: letters, digits, '-' and '_' only. */
export const PASSWORD_PATTERN = /^[A-Za-z0-9_-]{12,128}$/;

export const newPassword = (): string => randomBytes(24).toString('base64url');

/** Writes a file only its owner can read. */
export function writePrivate(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/** The super user's password, generated at the first secured start and kept in secrets/. */
export function stackAdminPassword(home: string): string {
  const dir = stackKafkaSecretsDir(home);
  const file = join(dir, `${STACK_KAFKA_ADMIN}.password`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writePrivate(file, `${newPassword()}\n`);
  }
  return readFileSync(file, 'utf8').trim();
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const binary = which('openssl');
  if (!binary) throw new StackError('kafka', 'openssl is needed to make the TLS certificates and is not installed', 'apt-get install openssl');
  try {
    await runTool(binary, args, { cwd, timeoutMs: 60_000 });
  } catch (cause) {
    throw new StackError('kafka', `making the TLS certificates failed: ${(cause as Error).message}`, 'apt-get install openssl', { cause });
  }
}

/**
 * A CA and a node certificate for 127.0.0.1 and localhost, valid for server and client use (the
 * nodes present it to each other on the controller listener). Made once; later starts reuse them.
 */
export async function ensureKafkaTls(home: string): Promise<KafkaTlsFiles> {
  const dir = stackKafkaTlsDir(home);
  const files: KafkaTlsFiles = { caFile: join(dir, 'ca.pem'), nodeKeyStore: join(dir, 'node-keystore.pem') };
  if (existsSync(files.caFile) && existsSync(files.nodeKeyStore)) return files;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = '3650';
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'ca.key'], dir);
  await openssl(
    ['req', '-x509', '-new', '-key', 'ca.key', '-days', days, '-subj', '/CN=gpuflow local CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem'],
    dir,
  );
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'node.key'], dir);
  await openssl(['req', '-new', '-key', 'node.key', '-subj', `/${NODE_CERT_SUBJECT}`, '-out', 'node.csr'], dir);
  writeFileSync(
    join(dir, 'node.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  await openssl(['x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', days, '-extfile', 'node.ext', '-out', 'node.crt'], dir);
  writePrivate(files.nodeKeyStore, readFileSync(join(dir, 'node.key'), 'utf8') + readFileSync(join(dir, 'node.crt'), 'utf8'));
  for (const key of ['ca.key', 'node.key']) chmodSync(join(dir, key), 0o600);
  for (const scratch of ['node.csr', 'node.ext']) rmSync(join(dir, scratch), { force: true });
  return files;
}

/** Replaces every occurrence of each secret in a text (tool output quoted in an error) with '***'. */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((out, secret) => out.split(secret).join('***'), text);
}
