#!/usr/bin/env bash
# benchmarks/gpu_bench.py on an accelerator machine, under a hard cap of 8 minutes in all.
#
#   bash benchmarks/gpu_bench.sh [gpu_bench.py options]      (from any folder)
#
# Needs .carry/gpu, staged here with `.venv/bin/python benchmarks/gpu_bench.py --stage .carry/gpu`
# and carried. Writes gpu_bench.json, gpu_bench.md, gpu_bench.log and nvidia-smi.csv to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-bench-out}
mkdir -p "$OUT"
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export MOREC_DATA_DIR=${MOREC_DATA_DIR:-/tmp/morec-gpu-bench-data}
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv \
    >"$OUT/nvidia-smi.csv" 2>&1 || true
# The script skips phases past its own --budget (420 s); the cap ends it whatever happens.
timeout --kill-after=10 465 python3 benchmarks/gpu_bench.py --carry .carry/gpu --out "$OUT" "$@" \
    2>&1 | tee "$OUT/gpu_bench.log"
