#!/usr/bin/env bash
# Regenerates reports/reproduction.md (+ .html, reproduction_files/) from the reproduction store.
# The CPU part ran with: for s in <the reproduction_cpu studies>; do
#   morec tune --study $s --workers 2 --storage runs/reproduction/morec.db; done
set -eu
cd "$(dirname "$0")/.."
morec report --group reproduction_cpu --group reproduction_gpu --group reproduction \
  --storage runs/reproduction/morec.db --output reports/reproduction.md \
  --note "CPU part: a 2-core VM (host vm), torch on the CPU in fp32, shared with the test suite and other work while it ran (2026-12-02)" \
  --note "data: microlens-50k sampled to 3,000 users (data.user_sample=3000, sample_seed 0) for the main and DSSM views, every user for warm-20, movielens-small-posters whole (610 users); no search on the CPU (lr 1e-3, weight decay 0.1, d 128, at most 15 epochs, 10 for warm-20), 3 seeds per arm" \
  --note "GPU part: not run - no GPU was lent to this session; reports/gpu_reproduction.sh is the prepared script (its store merges back with morec store merge). Every end-to-end arm below is pending, never filled in"
