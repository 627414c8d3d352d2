/**
 * Where a reader of results (the client SDK, `gpuflow results tail`) reads, and as which group.
 * Without a tenant: inference.results, every tenant's results (the platform's view). With one: only
 * `inference.results.TENANT`, in a group named `TENANT.…`: exactly what the tenant's ACLs allow
 * (docs/security.md).
 */
import { randomUUID } from 'node:crypto';
import type { DeadLetterSink } from '../kafka/dead-letters.js';
import type { Logger } from '../log.js';
import { SHARED_RESULTS_TOPIC, tenantGroupPrefix, tenantResultsTopic } from '../stack/kafka-tenants.js';

export interface ResultsReading {
  topic: string;
  /** A fresh group: every reader sees every result of its topic. */
  groupId: string;
}

/** `purpose` names the group (`client`, `tail`); `topic` overrides the topic, not the group's prefix. */
export function resultsReading(tenant: string | null, purpose: string, topic?: string): ResultsReading {
  return tenant
    ? { topic: topic ?? tenantResultsTopic(tenant), groupId: `${tenantGroupPrefix(tenant)}results.${purpose}.${randomUUID()}` }
    : { topic: topic ?? SHARED_RESULTS_TOPIC, groupId: `gpuflow-${purpose}-${randomUUID()}` };
}

/**
 * Dead letters of a tenant's reader are log lines: its ACLs grant no dead-letter topic, and a send
 * the broker refuses would be retried for ever.
 */
export const loggedDeadLetters = (logger: Logger): DeadLetterSink => ({
  send: async (entry) => logger.warn('results.undecodable', { topic: entry.sourceTopic, partition: entry.partition, offset: entry.offset, reason: entry.reason }),
});
