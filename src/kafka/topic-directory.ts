/**
 * Which topics exist, as the dispatcher (reply topics at admission) and the worker (tenant result
 * topics) need to know before they send: listed once, and listed again when a topic not seen yet
 * is asked for, so a topic created while the process runs is found. Listings are rate-limited and
 * shared (one at a time), so a flood of requests naming a missing topic costs one listing per
 * interval, not one per request.
 *
 * Also where a result goes (`resultRouter`): the dispatcher's rejections and the worker's results
 * are routed by the same rule.
 */
import type { DeadLetter } from '../domain/events/dead-letter.js';
import { GpuflowError } from '../domain/errors.js';
import { SHARED_RESULTS_TOPIC, TENANT_NAME, tenantResultsTopic } from '../stack/kafka-tenants.js';

/** The part of a Kafka admin client a listing uses. */
export interface TopicLister {
  connect(): Promise<void>;
  listTopics(): Promise<string[]>;
  disconnect(): Promise<void>;
}

export interface TopicDirectoryOptions {
  /** A fresh admin client per listing (kafkajs: `() => kafka.admin()`). */
  admin: () => TopicLister;
  /** A topic not seen is looked up at most this often; a failed listing does not count. */
  relistAfterMs: number;
  /** Wall clock, ms (tests pass their own). */
  now?: () => number;
}

export interface TopicDirectory {
  /** Whether the topic was seen in a listing (no I/O). */
  has(topic: string): boolean;
  /**
   * Whether the topic exists: known, or found by listing again (unless a listing succeeded less
   * than `relistAfterMs` ago). Throws TopicListingError when the listing fails.
   */
  exists(topic: string): Promise<boolean>;
  /** Lists now, or joins the listing in flight; throws TopicListingError when it fails. */
  list(): Promise<void>;
}

/** The brokers could not be asked which topics exist; retrying later may succeed. */
export class TopicListingError extends GpuflowError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retriable: true });
  }
}

export function createTopicDirectory(options: TopicDirectoryOptions): TopicDirectory {
  const now = options.now ?? Date.now;
  const known = new Set<string>();
  let listing: Promise<void> | null = null;
  let listedAtMs = -Infinity;

  async function listOnce(): Promise<void> {
    const admin = options.admin();
    try {
      await admin.connect();
      for (const topic of await admin.listTopics()) known.add(topic);
      listedAtMs = now();
    } catch (cause) {
      throw new TopicListingError('could not list the topics', { cause });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  const list = (): Promise<void> => (listing ??= listOnce().finally(() => (listing = null)));

  return {
    has: (topic) => known.has(topic),
    async exists(topic) {
      if (known.has(topic)) return true;
      if (listing) await listing;
      else if (now() - listedAtMs >= options.relistAfterMs) await list();
      return known.has(topic);
    },
    list,
  };
}

/** Where one result goes, and why its tenant's copy could not be written (null: it could). */
export interface ResultRoute {
  topics: string[];
  undeliverable: string | null;
}

export interface ResultRouter {
  routeOf(to: { tenant: string; replyTo: string }): Promise<ResultRoute>;
}

/**
 * Where a result goes: its reply topic; or, with per-tenant result topics (a directory given), its
 * tenant's topic and the shared one (the platform's projections read it), ignoring `replyTo`. A
 * tenant without a topic is answered on the shared topic only, with the reason it could not be
 * reached. A failed listing throws (TopicListingError): the caller retries rather than misroutes.
 */
export function resultRouter(tenantTopics: TopicDirectory | null): ResultRouter {
  return {
    async routeOf({ tenant, replyTo }) {
      if (!tenantTopics) return { topics: [replyTo], undeliverable: null };
      if (!TENANT_NAME.test(tenant)) return { topics: [SHARED_RESULTS_TOPIC], undeliverable: `tenant '${tenant}' has no results topic: not a tenant name (${TENANT_NAME})` };
      const topic = tenantResultsTopic(tenant);
      if (!(await tenantTopics.exists(topic))) {
        return { topics: [SHARED_RESULTS_TOPIC], undeliverable: `results topic '${topic}' does not exist: tenant '${tenant}' is not provisioned (gpuflow stack tenant add ${tenant})` };
      }
      return { topics: [topic, SHARED_RESULTS_TOPIC], undeliverable: null };
    },
  };
}

/**
 * The dead letter for a result its tenant could not be sent, given its copy on the shared topic
 * (`value`): never written to a tenant topic, hence no partition or offset; the shared copy is
 * the answer of record. Null when the route reached the tenant.
 */
export function undeliverableResult(route: ResultRoute, tenant: string, value: Buffer, atMs: number): DeadLetter | null {
  if (route.undeliverable === null) return null;
  return {
    sourceTopic: SHARED_RESULTS_TOPIC, partition: -1, offset: '-1', reason: route.undeliverable, errorClass: 'UndeliverableResult',
    key: Buffer.from(tenant), value, timestampMs: atMs,
  };
}
