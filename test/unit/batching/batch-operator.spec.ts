import { describe, expect, it } from 'vitest';
import { map, merge, timer, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { createBatcher, type Batcher, type BatcherState } from '../../../src/processors/batching/batcher.js';
import { batchRequests, type BatcherSourceInput } from '../../../src/processors/batching/batch-operator.js';
import type { InferenceRequest } from '../../../src/domain/events/request.js';
import { arrived, capacity, prepared, request, summary } from './helpers.js';

type Helpers = Parameters<Parameters<TestScheduler['run']>[0]>[0];

/** Runs `body` in virtual time; `batch` pipes an input stream through the operator on that scheduler. */
function virtual(
  body: (helpers: Helpers, batch: (input: Observable<BatcherSourceInput>, batcher: Batcher, state: BatcherState) => Observable<string>) => void,
): void {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  scheduler.run((helpers) =>
    body(helpers, (input, batcher, initialState) => input.pipe(batchRequests({ batcher, scheduler, initialState }), map(summary))),
  );
}

const req = (id: string, overrides: Partial<InferenceRequest> = {}): BatcherSourceInput => arrived(request(id, overrides)) as BatcherSourceInput;
const cap = (slots: number): BatcherSourceInput => capacity(slots) as BatcherSourceInput;

describe('batchRequests (virtual time)', () => {
  it('forms a FULL batch at the max size and flushes the rest after the max queue delay', () => {
    virtual(({ hot, expectObservable }, batch) => {
      const batcher = createBatcher();
      const state = prepared(batcher, { manifest: { maxBatchSize: 3, maxQueueDelayMs: 5 }, capacity: 10 });
      const input = hot('-a-b-c---d-------|', { a: req('a'), b: req('b'), c: req('c'), d: req('d') });
      //                 -----x                 a, b, c fill the batch at 5
      //                          ^----y        d waits its 5 ms max delay: 9 + 5 = 14
      expectObservable(batch(input, batcher, state)).toBe('-----x--------y--|', { x: 'FULL:a,b,c', y: 'MAX_DELAY:d' });
    });
  });

  it('forms nothing without capacity, then the held batch when a slot arrives (CAPACITY)', () => {
    virtual(({ hot, expectObservable }, batch) => {
      const batcher = createBatcher();
      const state = prepared(batcher, { manifest: { maxBatchSize: 4, maxQueueDelayMs: 2 } });
      const input = hot('-a-b-------s---|', { a: req('a'), b: req('b'), s: cap(1) });
      expectObservable(batch(input, batcher, state)).toBe('-----------x---|', { x: 'CAPACITY:a,b' });
    });
  });

  it('flushes early when waiting longer would make the most urgent request miss its deadline', () => {
    virtual(({ hot, expectObservable }, batch) => {
      const batcher = createBatcher({ defaults: { prior: { fixedMs: 2, perSampleMs: 0 }, headroom: 1 } });
      const state = prepared(batcher, { manifest: { maxBatchSize: 8, maxQueueDelayMs: 100 }, capacity: 5 });
      // a must finish by 10 and a batch takes 2 ms: it must start by 8. b rides along.
      const input = hot('-a-b------------|', { a: req('a', { deadlineMs: 10 }), b: req('b', { deadlineMs: 10_000 }) });
      expectObservable(batch(input, batcher, state)).toBe('--------x-------|', { x: 'DEADLINE:a,b' });
    });
  });

  it('sends the largest preferred size that can be formed, and the remainder after its delay', () => {
    virtual(({ hot, expectObservable }, batch) => {
      const batcher = createBatcher();
      const state = prepared(batcher, { manifest: { maxBatchSize: 8, preferredBatchSizes: [2, 4], maxQueueDelayMs: 50 } });
      const values = { a: req('a'), b: req('b'), c: req('c'), d: req('d'), e: req('e'), s: cap(1), t: cap(1) };
      // Without capacity five wait; a slot takes the largest preferred size (4); e waits its 50 ms.
      const input = hot('-abcde----s---------t-----------------------------------------|', values);
      const expected = '----------x--------------------------------------------y------|';
      expectObservable(batch(input, batcher, state)).toBe(expected, { x: 'CAPACITY:a,b,c,d', y: 'MAX_DELAY:e' });
    });
  });

  it('sends a preferred size as soon as it can be formed when a worker is free', () => {
    virtual(({ hot, expectObservable }, batch) => {
      const batcher = createBatcher();
      const state = prepared(batcher, { manifest: { maxBatchSize: 8, preferredBatchSizes: [2], maxQueueDelayMs: 50 }, capacity: 3 });
      const input = hot('-a-b-c-d---|', { a: req('a'), b: req('b'), c: req('c'), d: req('d') });
      expectObservable(batch(input, batcher, state)).toBe('---x---y---|', { x: 'PREFERRED_SIZE:a,b', y: 'PREFERRED_SIZE:c,d' });
    });
  });

  it('rejects a request whose queue timeout passes, and a newcomer to a full queue', () => {
    virtual(({ hot, expectObservable }, batch) => {
      const batcher = createBatcher();
      const state = prepared(batcher, { manifest: { maxBatchSize: 4 }, policy: { timeoutMs: 10, maxQueueSize: 2 } });
      const input = hot('-abc-----------|', { a: req('a'), b: req('b'), c: req('c') });
      //                 ---z                 c finds the queue full at once
      //                 -----------xy        a and b time out at 11 and 12
      expectObservable(batch(input, batcher, state)).toBe('---z-------xy--|', { z: 'REJECTED:c', x: 'REJECTED:a', y: 'REJECTED:b' });
    });
  });

  it('rejects a request once its deadline can no longer be met, before any GPU time is spent on it', () => {
    virtual(({ hot, expectObservable }, batch) => {
      const batcher = createBatcher({ defaults: { prior: { fixedMs: 3, perSampleMs: 0 }, headroom: 1 } });
      const state = prepared(batcher, { manifest: { maxBatchSize: 4 } });
      // Deadline 10, a batch of one takes 3 ms: hopeless from 7 on. d is hopeless on arrival.
      const input = hot('-a--d----------|', { a: req('a', { deadlineMs: 10 }), d: req('d', { deadlineMs: 5 }) });
      expectObservable(batch(input, batcher, state)).toBe('----y--x-------|', { x: 'REJECTED:a', y: 'REJECTED:d' });
    });
  });

  it("keeps a timed-out request under a 'keep' policy, behind requests that did not time out", () => {
    virtual(({ hot, expectObservable }, batch) => {
      const batcher = createBatcher();
      const state = prepared(batcher, { manifest: { maxBatchSize: 1, maxQueueDelayMs: 0 }, policy: { timeoutMs: 10, onTimeout: 'keep' } });
      const input = hot('-a----------b-------s---------t---|', { a: req('a'), b: req('b'), s: cap(1), t: cap(1) });
      expectObservable(batch(input, batcher, state)).toBe('--------------------x---------y---|', { x: 'FULL:b', y: 'FULL:a' });
    });
  });

  it('serves realtime before interactive before batch, earliest deadline first inside a class', () => {
    virtual(({ hot, expectObservable }, batch) => {
      const batcher = createBatcher({ defaults: { agingMs: Infinity } });
      const state = prepared(batcher, { manifest: { maxBatchSize: 2, maxQueueDelayMs: 0 } });
      const values = {
        a: req('a', { sloClass: 'batch', deadlineMs: 100 }),
        b: req('b', { sloClass: 'interactive', deadlineMs: 900 }),
        c: req('c', { sloClass: 'realtime', deadlineMs: 800 }),
        d: req('d', { sloClass: 'interactive', deadlineMs: 500 }),
        s: cap(1),
      };
      const input = hot('-abcd---s-s-s--|', values);
      expectObservable(batch(input, batcher, state)).toBe('--------x-y----|', { x: 'FULL:c,d', y: 'FULL:b,a' });
    });
  });

  it('ages a waiting batch request ahead of a stream of realtime ones, so it never starves', () => {
    const servedAt = (agingMs: number): number | undefined => {
      let at: number | undefined;
      const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
      scheduler.run(() => {
        const batcher = createBatcher({ defaults: { agingMs } });
        const state = prepared(batcher, { manifest: { maxBatchSize: 1, maxQueueDelayMs: 0 } });
        // One realtime request and one worker slot every 2 ms: realtime alone keeps the worker busy.
        const timed: Array<[number, BatcherSourceInput]> = [[0, req('x', { sloClass: 'batch', deadlineMs: 1e9 })]];
        for (let i = 0; i < 50; i++) timed.push([1 + 2 * i, req(`r${i}`, { sloClass: 'realtime', deadlineMs: 1e6 + i })], [1 + 2 * i, cap(1)]);
        merge(...timed.map(([t, v]) => timer(t).pipe(map(() => v))))
          .pipe(batchRequests({ batcher, scheduler, initialState: state }))
          .subscribe((o) => {
            if (o.type === 'BatchFormed' && o.event.requestIds.includes('x')) at = scheduler.now();
          });
      });
      return at;
    };
    expect(servedAt(Infinity)).toBeUndefined();
    // Rank 2 ('batch') minus one per 20 ms waited: below realtime's 0 after 60 ms.
    expect(servedAt(20)).toBe(61);
  });

  it('completes at once on an empty source, and never emits on a silent one', () => {
    virtual(({ cold, expectObservable }, batch) => {
      const batcher = createBatcher();
      const state = prepared(batcher, { capacity: 1 });
      expectObservable(batch(cold<BatcherSourceInput>('|'), batcher, state)).toBe('|');
      expectObservable(batch(cold<BatcherSourceInput>('-'), batcher, state)).toBe('-');
    });
  });

  it('passes a source error through', () => {
    virtual(({ cold, expectObservable }, batch) => {
      const batcher = createBatcher();
      const state = prepared(batcher, { capacity: 1 });
      expectObservable(batch(cold<BatcherSourceInput>('-a-#', { a: req('a') }, new Error('broker gone')), batcher, state)).toBe('---#', undefined, new Error('broker gone'));
    });
  });

  it('cancels its pending timer when unsubscribed', () => {
    const decidedAt: number[] = [];
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const batcher = createBatcher();
      const initialState = prepared(batcher, { manifest: { maxQueueDelayMs: 5 }, capacity: 1 });
      const input = hot('-a------', { a: req('a') });
      const out = input.pipe(batchRequests({ batcher, scheduler, initialState, onEvent: () => decidedAt.push(scheduler.now()) }));
      // a would flush at 6; after unsubscribing at 3 no timer may fire and decide anything.
      expectObservable(out, '^--!').toBe('----');
      expectSubscriptions(input.subscriptions).toBe('^--!');
    });
    expect(decidedAt.length).toBeGreaterThan(0);
    expect(decidedAt.every((t) => t <= 3)).toBe(true);
  });
});
