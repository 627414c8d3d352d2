#!/usr/bin/env node
// Entry point of the `gpuflow` command: runs the compiled CLI (npm run build).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src', 'cli', 'run.js');
if (!existsSync(entry)) {
  process.stderr.write('gpuflow: not built yet; run `npm run build` first\n');
  process.exit(1);
}
await import(entry);
