/**
 * The client's request timeouts with one timer per distinct timeout length rather than one per
 * request: requests given the same length expire in the order they were sent, so each length is a
 * queue (a line) whose head expires first, and only the head is timed. A request answered in time
 * stays in its line until its turn comes and is then dropped; a line whose answered requests
 * outnumber its waiting ones is compacted, so a line holds at most about twice what still waits.
 */

/** What a line holds: when an item expires, and how long it was given. */
export interface Timed {
  readonly timeoutMs: number;
  /** On performance.now()'s clock, which is the timers' own. */
  readonly dueAt: number;
}

interface Line<T> {
  items: T[];
  head: number;
  /** Items in the line already settled (answered or cancelled), not yet dropped. */
  settled: number;
  timer: NodeJS.Timeout | null;
}

/** Below this many settled items a line is not worth compacting. */
const COMPACT_AFTER = 1_024;

export class TimeoutLines<T extends Timed> {
  private readonly lines = new Map<number, Line<T>>();

  /**
   * `waiting(item)` says whether the item still waits for its answer; `expired(item)` is called
   * once for each that still waits when its time is up.
   */
  constructor(
    private readonly waiting: (item: T) => boolean,
    private readonly expired: (item: T) => void,
  ) {}

  add(item: T): void {
    let line = this.lines.get(item.timeoutMs);
    if (!line) this.lines.set(item.timeoutMs, (line = { items: [], head: 0, settled: 0, timer: null }));
    line.items.push(item);
    if (line.timer === null) this.arm(item.timeoutMs, line);
  }

  /** An item was answered or cancelled before its time: it stays in its line until dropped. */
  settled(item: T): void {
    const line = this.lines.get(item.timeoutMs);
    if (!line) return;
    line.settled++;
    const length = line.items.length - line.head;
    if (line.settled >= COMPACT_AFTER && line.settled * 2 > length) {
      line.items = line.items.slice(line.head).filter(this.waiting);
      line.head = 0;
      line.settled = 0;
    }
  }

  /** Stops every timer; the items are forgotten. */
  clear(): void {
    for (const line of this.lines.values()) if (line.timer) clearTimeout(line.timer);
    this.lines.clear();
  }

  private arm(timeoutMs: number, line: Line<T>): void {
    const head = line.items[line.head]!;
    line.timer = setTimeout(() => this.expire(timeoutMs, line), Math.max(0, head.dueAt - performance.now()));
  }

  private expire(timeoutMs: number, line: Line<T>): void {
    line.timer = null;
    const now = performance.now();
    while (line.head < line.items.length && line.items[line.head]!.dueAt <= now) {
      const item = line.items[line.head++]!;
      if (this.waiting(item)) this.expired(item);
      else line.settled = Math.max(0, line.settled - 1);
    }
    if (line.head === line.items.length) {
      this.lines.delete(timeoutMs);
      return;
    }
    if (line.head >= COMPACT_AFTER && line.head * 2 > line.items.length) {
      line.items = line.items.slice(line.head);
      line.head = 0;
    }
    this.arm(timeoutMs, line);
  }
}
