/**
 * Array edits for the hot paths that allocate nothing: `splice` returns a new array of what it
 * removed, and the built-in `sort` allocates a work area even for a list of three. Per
 * heartbeat and per batch those allocations were a tenth of the decider's garbage.
 */

/** Inserts `item` at `at`, moving the tail up by one. */
export function insertAt<T>(list: T[], at: number, item: T): void {
  let i = list.length;
  list.push(item);
  for (; i > at; i--) list[i] = list[i - 1] as T;
  list[at] = item;
}

/** Removes the item at `at`, moving the tail down by one. */
export function removeAt<T>(list: T[], at: number): void {
  const last = list.length - 1;
  for (let i = at; i < last; i++) list[i] = list[i + 1] as T;
  list.pop();
}

/**
 * Sorts `list` in place and returns it, in the same order as `list.sort(compare)` (both are
 * stable). Short lists, the usual case here (a worker's devices and models, often already in
 * order), are sorted by insertion, which allocates nothing and costs one pass when sorted.
 */
export function sortSmall<T>(list: T[], compare: (a: T, b: T) => number): T[] {
  if (list.length > 32) return list.sort(compare);
  for (let i = 1; i < list.length; i++) {
    const item = list[i] as T;
    let j = i - 1;
    for (; j >= 0 && compare(list[j] as T, item) > 0; j--) list[j + 1] = list[j] as T;
    list[j + 1] = item;
  }
  return list;
}

/** Code-unit order of strings, as the built-in sort's default. */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
