#!/usr/bin/env bash
# Runs a command with the node binary that scripts/gpu/pack.sh packed into .gpu/node.xz on PATH,
# for a GPU machine that has Python but no Node.js:  bash scripts/gpu/with-node.sh bash scripts/gpu-test.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -s "$root/.gpu/node.xz" ] || { echo "with-node: no .gpu/node.xz: run scripts/gpu/pack.sh on the build machine" >&2; exit 2; }
dir=$(mktemp -d)
python3 -c "import lzma, sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())" "$root/.gpu/node.xz" > "$dir/node"
chmod +x "$dir/node"
PATH="$dir:$PATH" exec "$@"
