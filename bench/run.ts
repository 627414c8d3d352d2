/**
 * `npm run bench -- NAME [NAME...]`: runs bench/NAME.ts (compiled) and writes bench/results/NAME.json.
 * Each benchmark module exports `run(args): Promise<BenchRow | BenchRow[]>`.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeResult, type BenchRow } from './result.js';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.js') && !['run.js', 'result.js'].includes(f))
  .map((f) => f.slice(0, -3))
  .sort();

async function main(argv: string[]): Promise<number> {
  const names = argv.filter((a) => !a.startsWith('--'));
  if (names.length === 0) {
    process.stderr.write(`usage: npm run bench -- NAME [--flags]\navailable: ${available.join(', ')}\n`);
    return 2;
  }
  for (const name of names) {
    const file = join(here, `${name}.js`);
    if (!existsSync(file)) {
      process.stderr.write(`gpuflow bench: no benchmark '${name}' (available: ${available.join(', ')})\n`);
      return 2;
    }
    const mod = (await import(file)) as { run: (args: string[]) => Promise<BenchRow | BenchRow[]> };
    const result = await mod.run(argv.filter((a) => a.startsWith('--')));
    const out = writeResult(name, result);
    const rows = Array.isArray(result) ? result : [result];
    for (const r of rows) {
      process.stdout.write(`${r.name}: ours ${r.ours} ${r.unit}, ${r.baseline.name} ${r.baseline.value} ${r.unit}, ratio ${r.ratio}${r.headline ? ' (headline)' : ''}\n`);
    }
    process.stdout.write(`wrote ${out}\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`gpuflow bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
