/**
 * A binary min-heap of items named by a string id, with each id's position kept so that an
 * item's key can change or the item can leave in O(log n). The scheduler keeps workers by last
 * heartbeat in one, instead of scanning them all (devices, far more numerous, are in SlotHeaps).
 * Each id has one node that records its position, so a sift moves nodes and writes positions
 * as plain fields; the id map is read once per operation, not once per level.
 *
 * `less` must be a strict total order (break ties by id): the heap's layout then depends on the
 * order of updates, but every answer it gives does not, which is what replay needs.
 */
interface Node<T> {
  item: T;
  at: number;
}

export class IndexedHeap<T> {
  private readonly nodes: Node<T>[] = [];
  private readonly byId = new Map<string, Node<T>>();

  constructor(
    private readonly idOf: (item: T) => string,
    private readonly less: (a: T, b: T) => boolean,
  ) {}

  get size(): number {
    return this.nodes.length;
  }

  get(id: string): T | undefined {
    return this.byId.get(id)?.item;
  }

  /** The least item, without walking. */
  peek(): T | undefined {
    return this.nodes[0]?.item;
  }

  /** Inserts the item, or replaces the one with the same id and restores the heap order. */
  upsert(item: T): void {
    const id = this.idOf(item);
    const node = this.byId.get(id);
    if (node === undefined) {
      const fresh: Node<T> = { item, at: this.nodes.length };
      this.nodes.push(fresh);
      this.byId.set(id, fresh);
      this.siftUp(fresh);
      return;
    }
    node.item = item;
    this.siftUp(node);
    this.siftDown(node);
  }

  remove(id: string): void {
    const node = this.byId.get(id);
    if (node === undefined) return;
    this.byId.delete(id);
    const last = this.nodes.pop() as Node<T>;
    if (last === node) return;
    this.nodes[node.at] = last;
    last.at = node.at;
    this.siftUp(last);
    this.siftDown(last);
  }

  /**
   * Visits items in ascending order, lazily, until `visit` returns true; returns that item.
   * Visiting k items costs O(k log k), not O(n).
   */
  find(visit: (item: T) => boolean): T | undefined {
    const cursor = this.ascending();
    for (let item = cursor.next(); item !== undefined; item = cursor.next()) if (visit(item)) return item;
    return undefined;
  }

  /**
   * A cursor over the items in ascending order: best-first over the heap's tree with a small
   * frontier heap of positions. Valid until the heap changes.
   */
  ascending(): { next(): T | undefined } {
    const nodes = this.nodes;
    const less = this.less;
    const frontier: number[] = nodes.length > 0 ? [0] : [];
    const lessAt = (a: number, b: number): boolean => less((nodes[a] as Node<T>).item, (nodes[b] as Node<T>).item);
    return {
      next(): T | undefined {
        if (frontier.length === 0) return undefined;
        const top = frontier[0] as number;
        const last = frontier.pop() as number;
        if (frontier.length > 0) {
          frontier[0] = last;
          let i = 0;
          for (;;) {
            const l = 2 * i + 1;
            const r = l + 1;
            let m = i;
            if (l < frontier.length && lessAt(frontier[l] as number, frontier[m] as number)) m = l;
            if (r < frontier.length && lessAt(frontier[r] as number, frontier[m] as number)) m = r;
            if (m === i) break;
            [frontier[i], frontier[m]] = [frontier[m] as number, frontier[i] as number];
            i = m;
          }
        }
        for (let child = 2 * top + 1; child <= 2 * top + 2 && child < nodes.length; child++) {
          frontier.push(child);
          let i = frontier.length - 1;
          while (i > 0) {
            const p = (i - 1) >> 1;
            if (!lessAt(frontier[i] as number, frontier[p] as number)) break;
            [frontier[i], frontier[p]] = [frontier[p] as number, frontier[i] as number];
            i = p;
          }
        }
        return (nodes[top] as Node<T>).item;
      },
    };
  }

  private siftUp(node: Node<T>): void {
    const nodes = this.nodes;
    let i = node.at;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = nodes[p] as Node<T>;
      if (!this.less(node.item, parent.item)) break;
      nodes[i] = parent;
      parent.at = i;
      i = p;
    }
    nodes[i] = node;
    node.at = i;
  }

  private siftDown(node: Node<T>): void {
    const nodes = this.nodes;
    const n = nodes.length;
    let i = node.at;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less((nodes[r] as Node<T>).item, (nodes[l] as Node<T>).item) ? r : l;
      const child = nodes[c] as Node<T>;
      if (!this.less(child.item, node.item)) break;
      nodes[i] = child;
      child.at = i;
      i = c;
    }
    nodes[i] = node;
    node.at = i;
  }
}
