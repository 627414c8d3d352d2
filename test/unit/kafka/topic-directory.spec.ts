import { describe, expect, it } from 'vitest';
import { createTopicDirectory, resultRouter, TopicListingError, undeliverableResult, type TopicLister } from '../../../src/kafka/topic-directory.js';

/** A fake admin: the topics the brokers hold now, and how many listings were asked for. */
function fakeBrokers(initial: string[]) {
  const state = { topics: new Set(initial), listings: 0, connects: 0, disconnects: 0, failing: false, gate: null as Promise<void> | null };
  const admin = (): TopicLister => ({
    connect: async () => void state.connects++,
    listTopics: async () => {
      state.listings++;
      if (state.gate) await state.gate;
      if (state.failing) throw new Error('broker unreachable');
      return [...state.topics];
    },
    disconnect: async () => void state.disconnects++,
  });
  return { state, admin };
}

function clock(startMs = 1_000) {
  const c = { ms: startMs, now: () => c.ms };
  return c;
}

describe('topic directory', () => {
  it('knows nothing before the first listing, and what the brokers hold after it', async () => {
    const { state, admin } = fakeBrokers(['a', 'b']);
    const dir = createTopicDirectory({ admin, relistAfterMs: 5_000, now: clock().now });
    expect(dir.has('a')).toBe(false);
    await dir.list();
    expect(dir.has('a')).toBe(true);
    expect(dir.has('c')).toBe(false);
    expect(state.listings).toBe(1);
    expect(state.disconnects).toBe(1);
  });

  it('finds a topic created later by listing again on a miss, at most once per interval', async () => {
    const { state, admin } = fakeBrokers(['a']);
    const c = clock();
    const dir = createTopicDirectory({ admin, relistAfterMs: 5_000, now: c.now });
    await dir.list();
    state.topics.add('late');
    c.ms += 1_000;
    // Listed 1 s ago: a miss does not list again.
    expect(await dir.exists('late')).toBe(false);
    expect(state.listings).toBe(1);
    c.ms += 4_000;
    expect(await dir.exists('late')).toBe(true);
    expect(state.listings).toBe(2);
    // Known topics never list.
    c.ms += 60_000;
    expect(await dir.exists('a')).toBe(true);
    expect(state.listings).toBe(2);
  });

  it('lists on the first miss when nothing was listed yet', async () => {
    const { state, admin } = fakeBrokers(['x']);
    const dir = createTopicDirectory({ admin, relistAfterMs: 1_000, now: clock().now });
    expect(await dir.exists('x')).toBe(true);
    expect(await dir.exists('y')).toBe(false);
    expect(state.listings).toBe(1);
  });

  it('shares one listing between concurrent misses', async () => {
    const { state, admin } = fakeBrokers(['t']);
    let open!: () => void;
    state.gate = new Promise<void>((r) => (open = r));
    const dir = createTopicDirectory({ admin, relistAfterMs: 0, now: clock().now });
    const asked = [dir.exists('t'), dir.exists('t'), dir.exists('u'), dir.list()];
    open();
    const [a, b, u] = await Promise.all(asked);
    expect([a, b, u]).toEqual([true, true, false]);
    expect(state.listings).toBe(1);
  });

  it('throws a retriable TopicListingError when a listing fails, and lists again at the next miss', async () => {
    const { state, admin } = fakeBrokers(['t']);
    const c = clock();
    const dir = createTopicDirectory({ admin, relistAfterMs: 5_000, now: c.now });
    state.failing = true;
    const failure = await dir.exists('t').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TopicListingError);
    expect((failure as TopicListingError).retriable).toBe(true);
    expect(((failure as TopicListingError).cause as Error).message).toBe('broker unreachable');
    expect(state.disconnects).toBe(1);
    // A failed listing does not start the interval: the next miss lists at once.
    state.failing = false;
    expect(await dir.exists('t')).toBe(true);
    expect(state.listings).toBe(2);
  });
});

describe('result routing', () => {
  it('answers on the reply topic without per-tenant topics', async () => {
    expect(await resultRouter(null).routeOf({ tenant: 'Anything Goes', replyTo: 'my.replies' })).toEqual({ topics: ['my.replies'], undeliverable: null });
  });

  it('routes to the tenant topic and the shared one, ignoring replyTo', async () => {
    const { admin } = fakeBrokers(['inference.results', 'inference.results.acme']);
    const router = resultRouter(createTopicDirectory({ admin, relistAfterMs: 1_000, now: clock().now }));
    expect(await router.routeOf({ tenant: 'acme', replyTo: 'inference.results.other' })).toEqual({ topics: ['inference.results.acme', 'inference.results'], undeliverable: null });
  });

  it('answers a tenant without a topic, or with no tenant name, on the shared topic only, with the reason', async () => {
    const { admin } = fakeBrokers(['inference.results']);
    const router = resultRouter(createTopicDirectory({ admin, relistAfterMs: 1_000, now: clock().now }));
    const ghost = await router.routeOf({ tenant: 'ghost', replyTo: 'x' });
    expect(ghost.topics).toEqual(['inference.results']);
    expect(ghost.undeliverable).toContain("results topic 'inference.results.ghost' does not exist");
    const invalid = await router.routeOf({ tenant: 'Not A Tenant', replyTo: 'x' });
    expect(invalid.topics).toEqual(['inference.results']);
    expect(invalid.undeliverable).toContain('not a tenant name');
  });

  it('dead-letters only the results whose tenant could not be reached', () => {
    const value = Buffer.from('result');
    expect(undeliverableResult({ topics: ['inference.results.acme', 'inference.results'], undeliverable: null }, 'acme', value, 5)).toBeNull();
    expect(undeliverableResult({ topics: ['inference.results'], undeliverable: 'why' }, 'ghost', value, 5)).toEqual({
      sourceTopic: 'inference.results', partition: -1, offset: '-1', reason: 'why', errorClass: 'UndeliverableResult', key: Buffer.from('ghost'), value, timestampMs: 5,
    });
  });
});
