#!/usr/bin/env bash
# The whole test suite: what a fresh machine lacks installed, typecheck, the layering rule, then every vitest project. The int project's
# global setup starts the local stack (or uses KAFKA_BROKERS / SCHEMA_REGISTRY_URL / REDIS_URL) and
# stops what it started; GPU tests skip with the reason where no NVIDIA driver is present.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== system packages and caches"
bash scripts/install-system-deps.sh
echo "== typecheck"
npx tsc --noEmit -p tsconfig.json
echo "== dependency rule"
node scripts/check-deps.mjs
echo "== tests"
npx vitest run "$@"
