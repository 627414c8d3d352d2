#!/usr/bin/env bash
# Packs what the GPU machine needs (it has no node_modules, no npm, no network) into .gpu/:
#   .gpu/dist/          the GPU code path compiled (checks, the gpu-mlp bench, the trace recorder
#                       and only what they import), via scripts/gpu/tsconfig.pack.json
#   .gpu/node_modules/  koffi + its linux-x64 native package, rxjs (cjs build) + tslib
#   .gpu/package.json   {"type":"module"} so node reads dist/ as ES modules
#   .gpu/node.xz        this machine's node binary, xz-compressed, for a GPU machine without Node.js
# The whole folder stays ≤ 60 MiB. On the GPU machine: bash scripts/gpu/with-node.sh bash scripts/gpu-test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
rm -rf .gpu/dist .gpu/node_modules
mkdir -p .gpu
grep -qxF '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
node_bin=$(readlink -f "$(command -v node)")
if [ ! -s .gpu/node.xz ] || [ "$node_bin" -nt .gpu/node.xz ]; then xz -T2 -6 -c "$node_bin" > .gpu/node.xz; fi
mkdir -p .gpu/node_modules/@koromix .gpu/node_modules/rxjs/dist
npx tsc -p scripts/gpu/tsconfig.pack.json
echo '{ "type": "module", "private": true }' > .gpu/package.json
cp -r node_modules/koffi .gpu/node_modules/koffi
rm -rf .gpu/node_modules/koffi/doc .gpu/node_modules/koffi/lib .gpu/node_modules/koffi/vendor
mkdir -p .gpu/node_modules/@koromix/koffi-linux-x64
cp -r node_modules/@koromix/koffi-linux-x64/{package.json,index.js,linux_x64} .gpu/node_modules/@koromix/koffi-linux-x64/
cp node_modules/rxjs/package.json .gpu/node_modules/rxjs/
cp -r node_modules/rxjs/dist/cjs .gpu/node_modules/rxjs/dist/cjs
cp -r node_modules/tslib .gpu/node_modules/tslib
# Smoke test away from the repository's node_modules: the packed packages must load on their own.
probe=$(mktemp -d)
cp -r .gpu/node_modules .gpu/package.json "$probe/"
echo "import 'koffi'; import { timer } from 'rxjs'; if (typeof timer !== 'function') process.exit(1);" > "$probe/probe.js"
(cd "$probe" && node probe.js) || { echo "pack: packed node_modules do not load" >&2; rm -rf "$probe"; exit 1; }
rm -rf "$probe"
size_kib=$(du -sk .gpu | cut -f1)
du -sh .gpu/* | sort -h
echo "pack: .gpu is $((size_kib / 1024)) MiB"
if [ "$size_kib" -gt $((60 * 1024)) ]; then echo "pack: .gpu exceeds 60 MiB" >&2; exit 1; fi
