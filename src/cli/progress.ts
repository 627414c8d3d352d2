/**
 * A progress bar on stderr for long CLI work. On a terminal it redraws one line; elsewhere
 * (CI, pipes) it prints a line at every tenth, so logs stay short.
 */
export interface Progress {
  update(done: number, note?: string): void;
  finish(note?: string): void;
}

export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = Boolean(stream.isTTY);
  let lastTenth = -1;
  const render = (done: number, note = ''): string => {
    const share = total > 0 ? Math.min(1, done / total) : 1;
    const width = 30;
    const filled = Math.round(share * width);
    return `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${(share * 100).toFixed(0)}% ${note}`.trimEnd();
  };
  return {
    update(done, note) {
      if (tty) {
        stream.write(`\r${render(done, note)}\u001b[K`);
        return;
      }
      const tenth = total > 0 ? Math.floor((done / total) * 10) : 10;
      if (tenth > lastTenth) {
        lastTenth = tenth;
        stream.write(render(done, note) + '\n');
      }
    },
    finish(note) {
      stream.write(`${tty ? '\r' : ''}${render(total, note)}${tty ? '\u001b[K' : ''}\n`);
    },
  };
}
