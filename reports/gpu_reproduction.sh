#!/usr/bin/env bash
# The GPU part of reports/reproduction.md: the end-to-end arms of the reproduction_gpu group
# (studies/reproduction.py) on the data views of reproduction_cpu, into a store of their own.
# Prepared for one lent GPU and a 10-minute budget: the studies run in order of importance
# under one deadline; what did not finish stays pending in the report, never filled in.
#
#   on the GPU machine (microlens-50k carried as .carry/shared-data/microlens-50k):
#     MOREC_SHARED_DATA=$PWD/.carry/shared-data bash reports/gpu_reproduction.sh "$OUT/gpu.db" 540
#   back here:
#     morec store merge gpu.db --into runs/reproduction/morec.db
#     morec report --group reproduction_cpu --group reproduction_gpu --group reproduction \
#       --storage runs/reproduction/morec.db --output reports/reproduction.md
set -u
store=${1:?usage: gpu_reproduction.sh STORE [SECONDS]}
budget=${2:-540}
deadline=$(( $(date +%s) + budget ))
export MOREC_PROGRESS_LINE_S=30
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
for study in gpu_microlens_sasrec_bce gpu_microlens_sasrec_softmax gpu_posters_sasrec_bce \
             gpu_posters_sasrec_softmax gpu_microlens_warm20_bce gpu_microlens_dssm_bce \
             gpu_microlens_warm20_softmax gpu_microlens_dssm_softmax; do
  left=$(( deadline - $(date +%s) ))
  [ "$left" -gt 30 ] || { echo "== out of time before $study"; break; }
  echo "== $(date -u +%H:%M:%S) $study (${left} s left)"
  # Two workers share the one GPU (an E2E MiniLM-L6 step leaves most of an H200 idle);
  # a worker stopped by the deadline re-queues its trial (interrupted, resumable).
  timeout --signal=TERM "$left" morec tune --study "$study" --gpus 0,0 --storage "$store"
done
echo "== $(date -u +%H:%M:%S) done"
