#!/usr/bin/env bash
# The GPU part of reports/reproduction.md (issue 23): MiniLM-L6 pretrained end to end, its top 2
# layers and LoRA (the reproduction_gpu group of studies/reproduction.py) on the very data views
# of reproduction_cpu (every microlens-50k user), under BCE and the in-batch softmax, 3 seeds,
# into a store of its own that merges back into the CPU store. Sized for one H100 and about ten
# minutes: the two studies run side by side (3 workers each on the one GPU) under one deadline;
# a worker stopped by the deadline leaves its run `interrupted` (resumable); the store is copied
# whole into $OUT before the deadline, so whatever finished comes back and the rest stays pending
# in the report, never filled in.
#
#   1. here, once:      bash reports/gpu_reproduction.sh stage
#      (.carry/repro: microlens-50k, MiniLM-L6 as fp16 safetensors (45 MB: the package's 91 MB
#       do not fit the 64 MiB the device carries; encoders/carried.py verifies and widens them),
#       and wheels of what the device's image lacks)
#   2. on the device:   bash reports/gpu_reproduction.sh run 540        (carry .carry/repro)
#   3. back here:       morec store merge <files_at>/gpu.db --into runs/reproduction/morec.db
#                       bash reports/make_reproduction.sh
#   CPU dry run of step 2 on a tiny slice (tests/test_gpu_reproduction.py runs it, seconds):
#                       MOREC_SHARED_DATA=<folder> bash reports/gpu_reproduction.sh dry-run
set -uo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: gpu_reproduction.sh stage | run [SECONDS] | dry-run}
carry=.carry/repro
studies=(gpu_microlens_sasrec_bce gpu_microlens_sasrec_softmax)
log() { echo "== $(date -u +%H:%M:%S) $*"; }

if [ "$mode" = stage ]; then
  shared=${MOREC_SHARED_DATA:-../shared/data}
  python=${PYTHON:-python}
  mkdir -p "$carry/shared-data/microlens-50k" "$carry/models" "$carry/whl"
  cp "$shared"/microlens-50k/MicroLens-50k_{pairs.tsv,titles.csv} "$carry/shared-data/microlens-50k/"
  rm -rf "$carry/models/minilm-l6"
  "$python" -m morec_core.encoders.carried export minilm-l6 "$carry/models" || exit 1
  # The device's image (KINDS.md) has torch, transformers, timm, peft, typer, pandas, scipy;
  # the store and the study layer need these (Python 3.12, manylinux x86_64).
  "$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d "$carry/whl" \
    sqlalchemy greenlet optuna alembic mako colorlog || exit 1
  du -sh "$carry" && exit 0
fi

export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MOREC_PROGRESS_LINE_S=30
export MOREC_DATA_DIR=${MOREC_DATA_DIR:-/tmp/morec-gpu-data}
export MOREC_RUNS_DIR=${MOREC_RUNS_DIR:-/tmp/morec-gpu-runs}
OUT=${OUT:-$PWD/gpu-reproduction-out}
mkdir -p "$OUT"
store=$MOREC_RUNS_DIR/gpu.db
morec=(python3 -m morec_tui.cli)

if [ "$mode" = run ]; then
  budget=${2:-540}
  if ls "$carry"/whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site "$carry"/whl/*.whl || exit 1
    export PYTHONPATH=$PYTHONPATH:/tmp/site
  fi
  export MOREC_SHARED_DATA=$PWD/$carry/shared-data MOREC_MODELS_DIR=$PWD/$carry/models
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  workers=0,0,0
  settings=()
elif [ "$mode" = dry-run ]; then
  # The same commands on the CPU over the data $MOREC_SHARED_DATA names (a tiny microlens-format
  # folder in the test): one seed, one epoch, as studies of their own (--name) in a store of
  # their own.
  budget=${2:-300}
  workers=0
  settings=(--seeds 1 --set train.epochs=1 --set train.device=cpu --set eval.batch_size=256)
else
  echo "unknown mode $mode (stage | run [SECONDS] | dry-run)" >&2
  exit 2
fi

deadline=$(( $(date +%s) + budget ))
# The copy of the store that comes back is taken this long before the deadline.
margin=25
pids=()
for study in "${studies[@]}"; do
  name=()
  [ "$mode" = dry-run ] && name=(--name "dry_$study")
  log "$study: workers on GPU slots $workers"
  timeout --signal=TERM --kill-after=15 $(( budget - margin )) \
    "${morec[@]}" tune --study "$study" "${name[@]}" "${settings[@]}" --gpus "$workers" \
    --storage "$store" >"$OUT/$study.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
log "studies ended (last exit status $status); copying the store"
# A consistent copy of the SQLite store (WAL included), whatever the workers left.
python3 - "$store" "$OUT/gpu.db" <<'EOF'
import sqlite3, sys
source = sqlite3.connect(sys.argv[1])
target = sqlite3.connect(sys.argv[2] + ".tmp")
source.backup(target)
target.close()
import os
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
EOF
for study in "${studies[@]}"; do tail -n 3 "$OUT/$study.log"; done
left=$(( deadline - $(date +%s) ))
if [ "$mode" = run ] && [ "$left" -gt 120 ]; then
  # Time left: the throughput figures benchmarks/README.md marks "not run" (E2E samples/s and
  # MFU, packed and padded; evaluation pairs/s), staged by gpu_bench.py --stage .carry/gpu.
  [ -d .carry/gpu ] && timeout $(( left - 20 )) python3 benchmarks/gpu_bench.py --carry .carry/gpu \
    --out "$OUT" --budget $(( left - 40 )) >"$OUT/gpu_bench.log" 2>&1
fi
log "done: $OUT/gpu.db"
exit 0
