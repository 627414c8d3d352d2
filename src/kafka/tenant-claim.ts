/**
 * A signed tenant claim, at the Kafka edge. The broker's ACLs say who may write to
 * inference.requests, not which tenant a request names, and quotas, rate limits and fair shares
 * are all kept per named tenant: without a check, one tenant could spend another's quota. So a
 * tenant's client signs each request with the tenant's own key (HMAC-SHA256 over the tenant, the
 * request id, the model and the submission time), in a header beside the message, and a
 * dispatcher that holds the tenants' keys checks the signature before admission.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../domain/errors.js';
import type { InferenceRequest } from '../domain/events/request.js';
import type { MessageHeaders } from '../tracing/kafka-headers.js';

/** The Kafka header that carries a request's signature (hex). */
export const TENANT_MAC_HEADER = 'gpuflow-tenant-mac';

export type TenantClaim = Pick<InferenceRequest, 'tenant' | 'requestId' | 'model' | 'submittedAtMs'>;

/**
 * 32 bytes as hex: a tenant key (32 random bytes, a line of its file) and a signature (an
 * HMAC-SHA256) are both written so.
 */
const HEX_32_BYTES = /^[0-9a-f]{64}$/i;

/**
 * The keys of a tenant key file, one per line: the first is the one clients sign with, and a
 * signature made with any of them holds. A rotation puts a new key first and keeps the previous
 * one below it until every client signs with the new one.
 */
export function parseTenantKeys(text: string, source: string): Buffer[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length === 0 || !lines.every((l) => HEX_32_BYTES.test(l))) throw new ConfigError(`${source} does not hold tenant keys (64 hex digits a line)`);
  return lines.map((l) => Buffer.from(l, 'hex'));
}

/** A tenant key file's keys; ConfigError, in one line, when it cannot be read or holds anything but keys. */
export function readTenantKeys(file: string): Buffer[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read the tenant key file ${file}: ${(cause as Error).message}`, { cause });
  }
  return parseTenantKeys(text, file);
}

/** The key a client signs with: the first of its file. */
export const readTenantKey = (file: string): Buffer => readTenantKeys(file)[0]!;

/** The signature a message carries, if any. */
export function tenantSignatureOf(headers: MessageHeaders): string | undefined {
  const value = headers[TENANT_MAC_HEADER];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

function mac(key: Buffer, claim: TenantClaim): Buffer {
  // Versioned and newline-separated: no field can run into the next (none may hold a newline
  // that matters: ids and model names are checked elsewhere, and the time is a number).
  return createHmac('sha256', key).update(`gpuflow-tenant-claim/1\n${claim.tenant}\n${claim.requestId}\n${claim.model}\n${claim.submittedAtMs}`).digest();
}

export function signTenantClaim(key: Buffer, claim: TenantClaim): string {
  return mac(key, claim).toString('hex');
}

/**
 * Why a request's tenant claim does not hold, or null when it is signed with one of the named
 * tenant's keys. `keys` is undefined for a tenant the dispatcher has no key for.
 */
export function tenantClaimProblem(claim: TenantClaim, signature: string | undefined, keys: readonly Buffer[] | undefined): string | null {
  if (keys === undefined || keys.length === 0) return `tenant '${claim.tenant}' has no signing key here: its requests cannot be checked`;
  if (signature === undefined || signature === '') return `request for tenant '${claim.tenant}' is not signed (header ${TENANT_MAC_HEADER})`;
  const given = HEX_32_BYTES.test(signature) ? Buffer.from(signature, 'hex') : null;
  if (given === null || !keys.some((key) => timingSafeEqual(given, mac(key, claim)))) return `request is not signed with tenant '${claim.tenant}'s key`;
  return null;
}
