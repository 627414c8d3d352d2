import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndexedHeap } from '../../../src/processors/scheduling/indexed-heap.js';
import { levelFromNvmlAncestor, normaliseTopology, pairRank } from '../../../src/processors/scheduling/topology.js';

interface Item {
  id: string;
  key: number;
}
const less = (a: Item, b: Item): boolean => a.key < b.key || (a.key === b.key && a.id < b.id);
const sortKey = (a: Item, b: Item): number => (less(a, b) ? -1 : less(b, a) ? 1 : 0);

describe('IndexedHeap', () => {
  it('find visits in ascending order and returns the first accepted, like a sorted scan', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('up', 'rm'), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 20 }))),
        fc.integer({ min: 0, max: 20 }),
        (ops, threshold) => {
          const heap = new IndexedHeap<Item>((i) => i.id, less);
          const model = new Map<string, Item>();
          for (const [op, id, key] of ops) {
            if (op === 'up') {
              heap.upsert({ id: `d${id}`, key });
              model.set(`d${id}`, { id: `d${id}`, key });
            } else {
              heap.remove(`d${id}`);
              model.delete(`d${id}`);
            }
          }
          expect(heap.size).toBe(model.size);
          const sorted = [...model.values()].sort(sortKey);
          const visited: Item[] = [];
          heap.find((i) => {
            visited.push(i);
            return false;
          });
          expect(visited).toEqual(sorted);
          const accept = (i: Item): boolean => (Number(i.id.slice(1)) + i.key) % 7 === threshold % 7;
          expect(heap.find(accept)).toEqual(sorted.find(accept));
        },
      ),
    );
  });
});

describe('topology', () => {
  it('maps NVML common ancestors to levels and treats undescribed pairs as SYSTEM', () => {
    expect([0, 10, 20, 30, 40, 50].map(levelFromNvmlAncestor)).toEqual(['PCIE_SWITCH', 'PCIE_SWITCH', 'PCIE_SWITCH', 'NUMA_NODE', 'NUMA_NODE', 'SYSTEM']);
    const links = normaliseTopology([{ a: 'b', b: 'a', level: 'NVLINK' }]);
    expect(links).toEqual([{ a: 'a', b: 'b', level: 'NVLINK' }]);
    expect(pairRank(links, 'b', 'a')).toBe(0);
    expect(pairRank(links, 'a', 'c')).toBe(3);
    expect(pairRank([], 'x', 'y')).toBe(3);
  });
});
