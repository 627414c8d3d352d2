/**
 * Reading a topic up to where it ended when a process started: state topics (manifests) are read
 * whole before the process acts on them. Every message read counts, delivered or dead-lettered: a
 * malformed last message must not leave the reader waiting for ever.
 */
export class CatchUp {
  private readonly behind: Set<number>;

  /** `ends`: each partition's end offset at the start (endOffsets). */
  constructor(private readonly ends: ReadonlyMap<number, string>) {
    this.behind = new Set([...ends].filter(([, end]) => end !== '0').map(([p]) => p));
  }

  get caughtUp(): boolean {
    return this.behind.size === 0;
  }

  /** Counts a message read; true once every partition has been read to its end at the start. */
  seen(partition: number, offset: string): boolean {
    if (BigInt(offset) + 1n >= BigInt(this.ends.get(partition) ?? '0')) this.behind.delete(partition);
    return this.behind.size === 0;
  }
}
