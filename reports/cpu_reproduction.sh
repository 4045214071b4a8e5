#!/usr/bin/env bash
# The CPU part of the reproduction (studies/reproduction.py, group reproduction_cpu), run over
# several sittings: its state travels with the repository as reports/reproduction_store.sqlite.xz
# (the run store) and reports/reproduction_store-optuna.sqlite.xz (Optuna's queue of trials),
# compressed by reports/reproduction_state.py.
#
#   setsid bash reports/cpu_reproduction.sh run > runs/reproduction/sitting.log 2>&1 &
#   bash reports/cpu_reproduction.sh run     # restore the state into runs/reproduction/ (if not
#                                            # there yet) and work through the studies, 2 workers
#                                            # of one thread each, in the background-friendly
#                                            # `nice`; stop it with Ctrl-C or SIGTERM at any time
#   bash reports/cpu_reproduction.sh stop    # stop a `run` started in the background (SIGTERM to
#                                            # its process group: each worker queues its trial
#                                            # again) and wait until it is gone
#   bash reports/cpu_reproduction.sh save    # copy the state back into reports/ (after `run`
#                                            # stopped), for the next sitting and for the report
#
# A trial stopped mid-run is re-queued by the next `run` and, without its checkpoint (runs/ is
# not committed), trains again from its first epoch; finished trials never run twice.
set -eu
cd "$(dirname "$0")/.."
state=runs/reproduction
committed=reports/reproduction_store
# The small posters studies (610 users: minutes a trial) first, so every sitting ends with whole
# arms; then the 3,000-user design whose collapse-rule stops raised issue 23 (GloVe, slow
# starters), rerun with the rule observing (reports/collapse_rule.md replays it); then the main
# view, whose trials take 30-60 minutes each on this machine.
studies="cpu_posters_sasrec_bce cpu_posters_sasrec_softmax cpu3k_microlens_sasrec_bce
cpu3k_microlens_sasrec_softmax cpu_microlens_sasrec_softmax
cpu_microlens_sasrec_bce cpu_microlens_warm20_all_softmax cpu_microlens_warm20_all_bce
cpu_microlens_dssm_bce cpu_microlens_dssm_softmax"
case "${1:-}" in
  run)
    mkdir -p "$state"
    if [ ! -f "$state/morec.db" ] && [ -f "$committed.sqlite.xz" ]; then
      python reports/reproduction_state.py unpack "$committed.sqlite.xz" "$state/morec.db"
      python reports/reproduction_state.py unpack "$committed-optuna.sqlite.xz" \
        "$state/morec-optuna.db"
    fi
    export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
    echo $$ > "$state/run.pid"
    trap 'rm -f "$state/run.pid"' EXIT
    for study in $studies; do
      echo "== $(date -u +%FT%TZ) $study"
      nice -n 10 morec tune --study "$study" --workers 2 --storage "$state/morec.db"
    done
    echo "== $(date -u +%FT%TZ) every study done";;
  stop)
    [ -f "$state/run.pid" ] || { echo "no run of this script is recorded in $state/run.pid" >&2; exit 1; }
    pid=$(cat "$state/run.pid")
    group=$(ps -o pgid= -p "$pid" | tr -d ' ')
    [ -n "$group" ] || { echo "run $pid is gone already" >&2; rm -f "$state/run.pid"; exit 0; }
    if [ "$group" = "$pid" ]; then  # started with setsid, as above: its own process group
      kill -TERM -- "-$group"
    else  # in its caller's group: its `morec tune` (which stops its workers), then itself
      pkill -TERM -P "$pid" || true
      kill -TERM "$pid" 2>/dev/null || true
    fi
    for _ in $(seq 120); do
      pgrep -f "morec_core.study_launch --storage sqlite:///.*$state/morec.db" >/dev/null \
        || kill -0 "$pid" 2>/dev/null || break
      sleep 1
    done
    if pgrep -f "morec_core.study_launch --storage sqlite:///.*$state/morec.db" >/dev/null; then
      echo "workers on $state/morec.db still alive after 2 minutes" >&2; exit 1
    fi
    rm -f "$state/run.pid"
    echo "stopped run $pid";;
  save)
    python reports/reproduction_state.py pack "$state/morec.db" "$committed.sqlite.xz"
    python reports/reproduction_state.py pack "$state/morec-optuna.db" \
      "$committed-optuna.sqlite.xz"
    ;;
  *) echo "usage: bash reports/cpu_reproduction.sh run|stop|save" >&2; exit 2;;
esac
