#!/usr/bin/env bash
# Records three GPU memory traces toward out-of-memory at different fill rates: while
# scripts/gpu/oom_alloc.py fills device memory in steps (fast, medium, slow) and frees it,
# the NVML sampler writes GpuSample JSON lines at 2 Hz to OUT_DIR/oom-RATE.jsonl.
#   bash scripts/gpu/record_oom_trace.sh OUT_DIR
# TRACE_SECONDS (default 50) sets each trace's length; GPUFLOW_DIST the compiled JS (.gpu/dist).
set -uo pipefail
out=${1:?usage: record_oom_trace.sh OUT_DIR}
secs=${TRACE_SECONDS:-50}
dist=${GPUFLOW_DIST:-.gpu/dist}
python=${PYTHON:-python3}
mkdir -p "$out"
status=0
for spec in fast:25 medium:50 slow:85; do
  name=${spec%%:*}
  fill=$(( secs * ${spec##*:} / 100 ))
  echo "trace $name: fill in ${fill}s, ${secs}s in all -> $out/oom-$name.jsonl"
  node "$dist/scripts/gpu/record-trace.js" --out "$out/oom-$name.jsonl" --seconds $(( secs + 2 )) --hz 2 &
  recorder=$!
  sleep 1
  if ! "$python" scripts/gpu/oom_alloc.py "$fill" "$secs"; then
    echo "trace $name: allocation process failed"
    status=1
  fi
  wait "$recorder" || { echo "trace $name: recorder failed"; status=1; }
done
exit $status
