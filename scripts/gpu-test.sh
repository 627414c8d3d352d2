#!/usr/bin/env bash
# The prepared GPU run (`npm run test:gpu`), on the GPU machine from the repository root,
# with node on PATH (bash scripts/gpu/with-node.sh unpacks the one pack.sh packed), with OUT set:
#   OUT=<folder> bash scripts/gpu/with-node.sh bash scripts/gpu-test.sh
# Needs .gpu/ from scripts/gpu/pack.sh (or, on a development machine, a `npm run build` dist/).
# Writes under $OUT: gpu-test.log, checks.json, gpu-mlp.json, torch-mlp.json and
# gpu-traces/oom-{fast,medium,slow}.jsonl. Each step has its own time limit; the whole stays
# under 7 minutes. Without a GPU it says so and stops within seconds (exit 3).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
OUT=${OUT:-$root/.gpuflow/gpu-out}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu-test.log") 2>&1
started=$(date +%s)
say() { echo "[gpu-test +$(( $(date +%s) - started ))s] $*"; }

if [ -d .gpu/dist ]; then dist=.gpu/dist; elif [ -d dist/test/gpu ]; then dist=dist; else
  say "no compiled code: run scripts/gpu/pack.sh first"; exit 2
fi
command -v node >/dev/null || { say "node not found: run this through scripts/gpu/with-node.sh"; exit 2; }
export GPUFLOW_DIST=$dist
say "node $(node --version), python $(python3 --version 2>&1 | cut -d' ' -f2), compiled code in $dist"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/  nvidia-smi: /'

say "1/3 GPU checks (NVML, CUDA, MLP vs cpu reference, hot swap, sampler cost)"
timeout -k 5 90 node "$dist/test/gpu/checks.js" --out "$OUT/checks.json" > "$OUT/checks.stdout" 
rc=$?
tail -n 1 "$OUT/checks.stdout"
rm -f "$OUT/checks.stdout"
if [ "$rc" -eq 3 ]; then say "no GPU on this machine: nothing else to run"; exit 3; fi
[ "$rc" -eq 124 ] && say "checks timed out"
checks_rc=$rc
# A crash inside native code (signal) most likely came from the cuBLASLt path: bench the fallback.
if [ "$rc" -gt 128 ] && [ "$rc" -ne 124 ]; then export GPUFLOW_EPILOGUE=nvrtc; say "checks died by signal $((rc - 128)): bench uses the NVRTC epilogue"; fi

say "2/3 benchmark gpu-mlp (gpuflow cuda executor vs PyTorch, batch 1..1024)"
timeout -k 5 140 node "$dist/bench/run.js" gpu-mlp "--torch-out=$OUT/torch-mlp.json"
bench_rc=$?
[ -f bench/results/gpu-mlp.json ] && [ "$bench_rc" -eq 0 ] && cp bench/results/gpu-mlp.json "$OUT/gpu-mlp.json"

say "3/3 OOM traces (3 x ${TRACE_SECONDS:-50}s at 2 Hz)"
timeout -k 5 185 bash scripts/gpu/record_oom_trace.sh "$OUT/gpu-traces"
trace_rc=$?
wc -l "$OUT"/gpu-traces/*.jsonl 2>/dev/null | sed 's/^/  /'

say "done: checks rc=$checks_rc, bench rc=$bench_rc, traces rc=$trace_rc"
[ "$checks_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ] && [ "$trace_rc" -eq 0 ]
