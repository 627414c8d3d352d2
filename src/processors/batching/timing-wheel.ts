/**
 * A hierarchical timing wheel (Varghese & Lauck), for the many short timers a batcher keeps: one
 * per queued request (its timeout) and one per queue (its next flush). Scheduling and cancelling
 * are O(1); expiring costs O(1) per timer plus one cascade per level a timer passes through.
 *
 * Time is never read from a clock: `advanceTo(nowMs)` is called by whoever owns time (an RxJS
 * scheduler, a discrete-event loop, a replay), so the wheel runs identically live, in virtual
 * time and in replay.
 *
 * Layout. Time is cut into ticks of `tickMs`; a timer due at `atMs` belongs to tick
 * ceil((atMs - originMs) / tickMs), so it never fires early and at most one tick late. Each level
 * has 64 buckets; level k's buckets are 64^k ticks wide. A timer sits on the lowest level whose
 * current 64-bucket span contains its tick; levels above are added lazily (Kafka's overflow
 * wheel), so far-future timers cost nothing until needed. When the current tick enters a
 * higher-level bucket, that bucket cascades: its timers move down (or fire).
 *
 * Buckets are doubly-linked lists threaded through typed arrays (struct of arrays), and a
 * 64-bit occupancy bitmap per level finds the next non-empty bucket without scanning, so a
 * pending timer costs 32 bytes and no garbage-collected object: a million pending timers are a
 * few typed arrays.
 *
 * Handles are numbers carrying a slot and a generation, so cancelling a timer that already fired
 * (or was cancelled) is a harmless no-op returning false, even if the slot was reused.
 */

const WHEEL_BITS = 6;
const WHEEL_SIZE = 1 << WHEEL_BITS;
const WORDS_PER_LEVEL = WHEEL_SIZE / 32;
/** Slots are the low 2^26 values of a handle, generations the rest (handles stay below 2^53). */
const SLOT_LIMIT = 2 ** 26;
const GENERATION_LIMIT = 2 ** 26;
const NONE = -1;
/** Bucket id of timers already due when scheduled; flushed first by the next advance. */
const OVERDUE = -2;
const FREE = -3;

/** Opaque handle of a scheduled timer. */
export type TimerId = number;

export interface TimingWheelOptions {
  /** Time of the wheel's origin, ms (the first advance may not go before it). */
  readonly startMs: number;
  /** Resolution, ms. Default 1. */
  readonly tickMs?: number;
  /** Timer slots allocated up front; the arrays double when full. Default 1024. */
  readonly initialCapacity?: number;
}

export class TimingWheel<T> {
  readonly tickMs: number;
  readonly originMs: number;
  /** Last tick processed: every timer due at or before it has fired. */
  private currentTick = 0;
  private count = 0;

  private capacity: number;
  private dueMs: Float64Array;
  private next: Int32Array;
  private prev: Int32Array;
  private bucketOf: Int32Array;
  private generation: Int32Array;
  private values: (T | undefined)[];
  private freeHead = NONE;
  private highWater = 0;

  private levels = 0;
  /** First node of each bucket (level * 64 + index), NONE when empty. */
  private heads: Int32Array = new Int32Array(0);
  private tails: Int32Array = new Int32Array(0);
  /** Smallest tick ever placed in a bucket since it was last empty (a lower bound after cancels). */
  private minTick: Float64Array = new Float64Array(0);
  private occupied: Uint32Array = new Uint32Array(0);
  /** 64^k for each level k and one more. */
  private spans: number[] = [1];
  private overdueHead = NONE;
  private overdueTail = NONE;
  private overdueCount = 0;

  constructor(options: TimingWheelOptions) {
    this.tickMs = options.tickMs ?? 1;
    if (!(this.tickMs > 0)) throw new RangeError(`tickMs must be > 0, got ${this.tickMs}`);
    this.originMs = options.startMs;
    this.capacity = Math.max(16, options.initialCapacity ?? 1024);
    this.dueMs = new Float64Array(this.capacity);
    this.next = new Int32Array(this.capacity);
    this.prev = new Int32Array(this.capacity);
    this.bucketOf = new Int32Array(this.capacity);
    this.generation = new Int32Array(this.capacity);
    this.values = [];
    this.addLevel();
  }

  /** Pending timers. */
  get size(): number {
    return this.count;
  }

  /** The time up to which everything due has fired. */
  get nowMs(): number {
    return this.originMs + this.currentTick * this.tickMs;
  }

  /**
   * Schedules `value` to expire at `atMs`. A time at or before the current tick expires on the
   * next `advanceTo`, whatever its argument.
   */
  schedule(atMs: number, value: T): TimerId {
    if (!Number.isFinite(atMs)) throw new RangeError(`timer time must be finite, got ${atMs}`);
    const slot = this.allocate();
    this.dueMs[slot] = atMs;
    this.values[slot] = value;
    this.place(slot, this.tickOf(atMs));
    this.count++;
    return this.generation[slot]! * SLOT_LIMIT + slot;
  }

  /** Cancels a pending timer. False when it already fired, was cancelled, or never existed. */
  cancel(id: TimerId): boolean {
    if (!Number.isInteger(id) || id < 0) return false;
    const slot = id % SLOT_LIMIT;
    if (slot >= this.highWater || this.bucketOf[slot] === FREE) return false;
    if (this.generation[slot] !== Math.floor(id / SLOT_LIMIT)) return false;
    this.unlink(slot);
    this.release(slot);
    this.count--;
    return true;
  }

  /**
   * Moves time forward to `nowMs` and hands every timer due by then to `visit`, in order of due
   * tick (timers of one tick in the order they were scheduled). Returns how many expired.
   * `visit` may schedule or cancel timers; a timer it schedules fires no earlier than its time,
   * in this advance if due by `nowMs` or in a later one.
   */
  advanceTo(nowMs: number, visit: (value: T, atMs: number) => void): number {
    const target = Math.floor((nowMs - this.originMs) / this.tickMs);
    let expired = this.flushOverdue(visit);
    for (;;) {
      const found = this.nextOccupied();
      if (found === undefined || found.tick > target) break;
      this.currentTick = found.tick;
      this.openBucket(found.level, found.index);
      expired += this.flushOverdue(visit);
    }
    if (target > this.currentTick) this.currentTick = target;
    return expired;
  }

  /** Convenience for callers that want the expired values as a list. */
  expire(nowMs: number): T[] {
    const out: T[] = [];
    this.advanceTo(nowMs, (value) => out.push(value));
    return out;
  }

  /**
   * The earliest time at which `advanceTo` has something to do, or undefined when nothing is
   * pending. Never later than the earliest pending timer; after cancellations it may be earlier
   * (the wheel then wakes, finds nothing due, and answers again), never later.
   */
  nextExpiryMs(): number | undefined {
    if (this.count === 0) return undefined;
    if (this.overdueHead !== NONE) return this.nowMs;
    const found = this.nextOccupied();
    if (found === undefined) return undefined;
    const bucket = found.level * WHEEL_SIZE + found.index;
    const tick = Math.max(found.tick, this.minTick[bucket]!);
    return this.originMs + tick * this.tickMs;
  }

  private tickOf(atMs: number): number {
    return Math.ceil((atMs - this.originMs) / this.tickMs);
  }

  /** The lowest level's next occupied bucket past the current tick, and the tick it starts at. */
  private nextOccupied(): { level: number; index: number; tick: number } | undefined {
    const cur = this.currentTick;
    for (let level = 0; level < this.levels; level++) {
      const span = this.spans[level]!;
      const digit = Math.floor(cur / span) % WHEEL_SIZE;
      const index = this.firstOccupiedAfter(level, digit);
      if (index !== NONE) {
        const blockStart = Math.floor(cur / this.spans[level + 1]!) * this.spans[level + 1]!;
        return { level, index, tick: blockStart + index * span };
      }
    }
    return undefined;
  }

  /** First occupied bucket index strictly greater than `digit` on `level`, or NONE. */
  private firstOccupiedAfter(level: number, digit: number): number {
    const from = digit + 1;
    for (let word = from >>> 5; word < WORDS_PER_LEVEL; word++) {
      let bits = this.occupied[level * WORDS_PER_LEVEL + word]!;
      if (word === from >>> 5) bits = (from & 31) === 0 ? bits : bits & ~((1 << (from & 31)) - 1);
      if (bits !== 0) return word * 32 + (31 - Math.clz32(bits & -bits));
    }
    return NONE;
  }

  /** Puts a slot in the bucket its tick belongs to, relative to the current tick. */
  private place(slot: number, tick: number): void {
    const cur = this.currentTick;
    if (tick <= cur) {
      this.bucketOf[slot] = OVERDUE;
      this.append(slot, OVERDUE);
      this.overdueCount++;
      return;
    }
    let level = 0;
    for (;;) {
      while (level + 1 >= this.spans.length || level >= this.levels) this.addLevel();
      const above = this.spans[level + 1]!;
      if (Math.floor(tick / above) === Math.floor(cur / above)) break;
      level++;
    }
    const index = Math.floor(tick / this.spans[level]!) % WHEEL_SIZE;
    const bucket = level * WHEEL_SIZE + index;
    this.bucketOf[slot] = bucket;
    if (this.heads[bucket] === NONE) {
      this.minTick[bucket] = tick;
      this.occupied[level * WORDS_PER_LEVEL + (index >>> 5)]! |= 1 << (index & 31);
    } else if (tick < this.minTick[bucket]!) {
      this.minTick[bucket] = tick;
    }
    this.append(slot, bucket);
  }

  private append(slot: number, bucket: number): void {
    const tail = bucket === OVERDUE ? this.overdueTail : this.tails[bucket]!;
    this.prev[slot] = tail;
    this.next[slot] = NONE;
    if (tail === NONE) {
      if (bucket === OVERDUE) this.overdueHead = slot;
      else this.heads[bucket] = slot;
    } else {
      this.next[tail] = slot;
    }
    if (bucket === OVERDUE) this.overdueTail = slot;
    else this.tails[bucket] = slot;
  }

  private unlink(slot: number): void {
    const bucket = this.bucketOf[slot]!;
    const before = this.prev[slot]!;
    const after = this.next[slot]!;
    if (before === NONE) {
      if (bucket === OVERDUE) this.overdueHead = after;
      else this.heads[bucket] = after;
    } else {
      this.next[before] = after;
    }
    if (after === NONE) {
      if (bucket === OVERDUE) this.overdueTail = before;
      else this.tails[bucket] = before;
    } else {
      this.prev[after] = before;
    }
    if (bucket === OVERDUE) this.overdueCount--;
    else if (this.heads[bucket] === NONE) this.markEmpty(bucket);
  }

  private markEmpty(bucket: number): void {
    const level = Math.floor(bucket / WHEEL_SIZE);
    const index = bucket % WHEEL_SIZE;
    this.occupied[level * WORDS_PER_LEVEL + (index >>> 5)]! &= ~(1 << (index & 31));
  }

  /**
   * Opens the bucket that starts at the current tick: its due timers join the overdue list (to be
   * visited in order), the others move down a level. Nothing is visited here, so a visitor that
   * cancels or schedules cannot disturb the list being walked.
   */
  private openBucket(level: number, index: number): void {
    const bucket = level * WHEEL_SIZE + index;
    let slot = this.heads[bucket]!;
    this.heads[bucket] = NONE;
    this.tails[bucket] = NONE;
    this.markEmpty(bucket);
    while (slot !== NONE) {
      const following = this.next[slot]!;
      const tick = this.tickOf(this.dueMs[slot]!);
      if (tick <= this.currentTick) {
        this.bucketOf[slot] = OVERDUE;
        this.append(slot, OVERDUE);
        this.overdueCount++;
      } else {
        this.place(slot, tick);
      }
      slot = following;
    }
  }

  /**
   * Visits the overdue timers one at a time from the head, unlinking each before its visit. At most
   * as many as were there at the start, so a visitor scheduling overdue timers cannot loop forever.
   */
  private flushOverdue(visit: (value: T, atMs: number) => void): number {
    let budget = this.overdueCount;
    let expired = 0;
    while (budget > 0 && this.overdueHead !== NONE) {
      const slot = this.overdueHead;
      this.unlink(slot);
      const value = this.values[slot] as T;
      const atMs = this.dueMs[slot]!;
      this.release(slot);
      this.count--;
      budget--;
      expired++;
      visit(value, atMs);
    }
    return expired;
  }

  private allocate(): number {
    if (this.freeHead !== NONE) {
      const slot = this.freeHead;
      this.freeHead = this.next[slot]!;
      return slot;
    }
    if (this.highWater === this.capacity) this.grow();
    return this.highWater++;
  }

  private release(slot: number): void {
    this.bucketOf[slot] = FREE;
    this.values[slot] = undefined;
    this.generation[slot] = (this.generation[slot]! + 1) % GENERATION_LIMIT;
    this.next[slot] = this.freeHead;
    this.freeHead = slot;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    if (capacity > SLOT_LIMIT) throw new RangeError(`timing wheel is limited to ${SLOT_LIMIT} pending timers`);
    const widen = <A extends Float64Array | Int32Array>(old: A, make: (n: number) => A): A => {
      const fresh = make(capacity);
      fresh.set(old);
      return fresh;
    };
    this.dueMs = widen(this.dueMs, (n) => new Float64Array(n));
    this.next = widen(this.next, (n) => new Int32Array(n));
    this.prev = widen(this.prev, (n) => new Int32Array(n));
    this.bucketOf = widen(this.bucketOf, (n) => new Int32Array(n));
    this.generation = widen(this.generation, (n) => new Int32Array(n));
    this.capacity = capacity;
  }

  /** Adds the next coarser level (the overflow wheel), created only when a timer needs it. */
  private addLevel(): void {
    const levels = this.levels + 1;
    const heads = new Int32Array(levels * WHEEL_SIZE).fill(NONE);
    heads.set(this.heads);
    const tails = new Int32Array(levels * WHEEL_SIZE).fill(NONE);
    tails.set(this.tails);
    const minTick = new Float64Array(levels * WHEEL_SIZE);
    minTick.set(this.minTick);
    const occupied = new Uint32Array(levels * WORDS_PER_LEVEL);
    occupied.set(this.occupied);
    this.heads = heads;
    this.tails = tails;
    this.minTick = minTick;
    this.occupied = occupied;
    this.levels = levels;
    while (this.spans.length <= levels) this.spans.push(this.spans[this.spans.length - 1]! * WHEEL_SIZE);
  }
}
