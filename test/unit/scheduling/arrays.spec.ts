import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byCodeUnits, insertAt, removeAt, sortSmall } from '../../../src/processors/scheduling/arrays.js';

describe('allocation-free array edits', () => {
  it('sortSmall orders like the built-in sort, stably, short lists and long', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ maxLength: 3 }), fc.nat(5)), { maxLength: 60 }), (pairs) => {
        const compare = (a: [string, number], b: [string, number]): number => byCodeUnits(a[0], b[0]);
        expect(sortSmall([...pairs], compare)).toEqual([...pairs].sort(compare));
        const names = pairs.map(([s]) => s);
        expect(sortSmall([...names], byCodeUnits)).toEqual([...names].sort());
      }),
    );
  });

  it('insertAt and removeAt edit like splice', () => {
    fc.assert(
      fc.property(fc.array(fc.integer(), { maxLength: 20 }), fc.nat(), fc.integer(), (list, at, item) => {
        const ours = [...list];
        const theirs = [...list];
        const i = at % (list.length + 1);
        insertAt(ours, i, item);
        theirs.splice(i, 0, item);
        expect(ours).toEqual(theirs);
        const j = at % ours.length;
        removeAt(ours, j);
        theirs.splice(j, 1);
        expect(ours).toEqual(theirs);
      }),
    );
  });
});
