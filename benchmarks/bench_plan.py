"""`morec plan` against real runs (issue 25): planned vs measured s/epoch for arms of
studies/efficient.py (microlens_efficient), on this machine, as ratios.

    .venv/bin/python benchmarks/bench_plan.py [--users 1000] [--epochs 2] [--steps 5]
        [--arms "IDRec,MiniLM-L6 TS,MiniLM-L6 side 64,MiniLM-L6 LoRA r8"]

For each arm, its first grid point (with data.user_sample=--users and train.epochs=--epochs on
top: the full microlens-50k is an hour an epoch for end-to-end arms on 2 CPU cores) is planned
(`plan.measure_in_process`: the real model on the real data, --steps timed steps after 2 warm-up
ones, in a process of its own) and then run for real (`launch.execute` into a temporary store,
its recorded s/epoch: the mean of its epochs' training seconds), back to back, arm by arm, so
that both see the same load on a shared machine. Prints planned, measured and measured/planned.
The data and content caches go to a temporary MOREC_DATA_DIR unless --data-dir is given (a
second run with the same --data-dir skips the caches' building).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARMS = "IDRec,MiniLM-L6 TS,MiniLM-L6 side 64,MiniLM-L6 LoRA r8"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000,
                        help="data.user_sample (0: every microlens-50k user)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--arms", default=DEFAULT_ARMS)
    parser.add_argument("--data-dir", default="")
    arguments = parser.parse_args()
    if arguments.data_dir:
        os.environ["MOREC_DATA_DIR"] = arguments.data_dir
    scratch = Path(tempfile.mkdtemp(prefix="bench-plan-"))
    os.environ.setdefault("MOREC_DATA_DIR", str(scratch / "data"))
    sys.path.insert(0, str(ROOT))

    from morec_core.launch import execute
    from morec_core.run.run_context import RunContext
    from morec_core.store import Store
    from morec_core.study.plan import measure_in_process
    from morec_core.study.plan_measure import Measurement
    from morec_core.study.studies import find_study
    from morec_core.study.study_preflight import requirements_of

    study = find_study(str(ROOT / "studies" / "efficient.py")).renamed_with(
        "bench_plan", [f"data.user_sample={arguments.users}", f"train.epochs={arguments.epochs}",
                       f"train.patience={arguments.epochs}"])
    missing = requirements_of(study).missing()
    if missing:
        sys.exit(f"bench_plan: {'; '.join(missing)}")
    print(f"microlens_efficient, data.user_sample={arguments.users}, {arguments.epochs} epochs "
          f"per real run, {arguments.steps} timed steps per plan; threads: "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}", flush=True)
    header = f"{'arm':<22} {'steps/epoch':>11} {'planned s/epoch':>16} {'measured s/epoch':>17} " \
             f"{'measured/planned':>17} {'plan took':>10}"
    print(header, flush=True)
    store = Store(scratch / "runs.db")
    for name in [part.strip() for part in arguments.arms.split(",") if part.strip()]:
        point = next(point for point in study.points() if point.arm == name)
        started = time.perf_counter()
        planned = measure_in_process(point.spec, warmup=2, steps=arguments.steps)
        took = time.perf_counter() - started
        if not isinstance(planned, Measurement):
            print(f"{name:<22} not measured: {planned}", flush=True)
            continue
        run_id = f"real-{len(store.runs())}"
        execute(point.spec, RunContext(run_id=run_id, run_dir=scratch / run_id), store)
        measured = store.run(run_id).seconds_per_epoch
        ratio = "" if not measured else f"{measured / planned.seconds_per_epoch:.2f}"
        print(f"{name:<22} {planned.steps_per_epoch:>11} {planned.seconds_per_epoch:>16.2f} "
              f"{measured or float('nan'):>17.2f} {ratio:>17} {took:>9.0f}s", flush=True)


if __name__ == "__main__":
    main()
