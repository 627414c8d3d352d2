/**
 * Writes a deterministic fp32 MLP in safetensors format (PyTorch nn.Linear layout).
 *   npx tsx scripts/gpu/make-mlp.ts OUT.safetensors 64,128,10 [seed]
 * The committed fixture test/fixtures/models/mlp-64-128-10.safetensors is `... 64,128,10 42`.
 */
import { writeFileSync } from 'node:fs';
import { encodeMlp, randomMlp } from '../../src/gpu/mlp.js';

const [out, sizesArg, seedArg] = process.argv.slice(2);
if (!out || !sizesArg) {
  process.stderr.write('usage: make-mlp.ts OUT.safetensors SIZES(e.g. 64,128,10) [SEED]\n');
  process.exit(2);
}
const sizes = sizesArg.split(',').map(Number);
const seed = Number(seedArg ?? 42);
if (sizes.some((s) => !Number.isInteger(s) || s < 1) || !Number.isInteger(seed)) {
  process.stderr.write(`bad sizes '${sizesArg}' or seed '${seedArg}'\n`);
  process.exit(2);
}
const bytes = encodeMlp(randomMlp(sizes, seed), { sizes: sizes.join(','), seed: String(seed), generator: 'scripts/gpu/make-mlp.ts' });
writeFileSync(out, bytes);
process.stdout.write(`wrote ${out}: ${bytes.byteLength} bytes, layers ${sizes.join('→')}, seed ${seed}\n`);
