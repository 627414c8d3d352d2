import { describe, expect, it } from 'vitest';
import { CatchUp } from '../../../src/kafka/catch-up.js';

describe('catching up with a topic', () => {
  it('is caught up at once on empty partitions, and once every other one is read to its end at the start', () => {
    expect(new CatchUp(new Map([[0, '0'], [1, '0']])).caughtUp).toBe(true);
    const catchUp = new CatchUp(new Map([[0, '3'], [1, '0'], [2, '1']]));
    expect(catchUp.caughtUp).toBe(false);
    expect(catchUp.seen(0, '1')).toBe(false);
    expect(catchUp.seen(2, '0')).toBe(false);
    // A message past the end at the start counts too: it was written since.
    expect(catchUp.seen(0, '5')).toBe(true);
    expect(catchUp.caughtUp).toBe(true);
  });
});
