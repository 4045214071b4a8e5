"""Time the dashboard's refreshes on a big store: 10,000 runs and 1,000,000 metric rows.

    .venv/bin/python benchmarks/bench_tui.py [--runs 10000] [--epochs 20] [--repeats 15]
                                             [--startups 3]

Targets on 2 CPU cores: under 200 ms for a refresh of the runs screen and of one run's curves,
under 500 ms for the study view of a study of 1,000 runs (issue 16); under 1.5 s from starting
Python to a runs table with rows painted (issue 24), timed in fresh processes, against the old
path in the same command: every run read and formatted before the first paint, and scipy.stats
imported with the app (its import is timed in; the rows' lazy padding is not undone, so the old
figure is if anything low). The two alternate, --startups times each; medians.
A refresh is what one poll costs: the load (store queries, in a worker thread in the app) plus
the show (updating the widgets and painting, on the UI thread), timed here one after the other
with the app headless at 120x40 (--size). Each figure is the median over the repeats. The polls that
count are those after a training run recorded an epoch (the rows or curves change); a poll
with nothing new and a new sort are shown for comparison. The runs screen reads every run's
versions at every tenth poll and the runs that moved at the others (RunsScreen.fetch), as in
the app; the study view reads its study's runs at each poll and Optuna only when a trial ended
(the store here has no Optuna storage, so the importance is not timed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert  # noqa: E402

from morec_core.config import RunSpec  # noqa: E402
from morec_core.run import events as ev  # noqa: E402
from morec_core.store import Store  # noqa: E402
from morec_core.store.rows import MetricRow, RunRow, StudyRow  # noqa: E402

STATUSES = ("completed",) * 6 + ("pruned", "collapsed", "failed", "interrupted")
LEARNING_RATES = (1e-4, 5e-4, 1e-3, 5e-3)
RUNS_PER_STUDY = 1000


def fill(store_path: Path, runs: int, epochs: int) -> tuple[int, str]:
    """Bulk rows straight into the tables (recording events one by one would take minutes).
    Returns the number of metric rows and the id of a run with a full curve."""
    Store(store_path).close()  # creates the schema
    engine = create_engine(f"sqlite:///{store_path}")
    # Four learning rates and three seeds: the runs screen shows lr and seed as columns.
    specs = [json.dumps(RunSpec().with_overrides([
        "data.source=mind", "train.epochs=50", f"train.lr={lr}", f"train.seed={seed}"]).to_dict(),
        sort_keys=True) for lr in LEARNING_RATES for seed in range(3)]
    studies = max(1, runs // RUNS_PER_STUDY)
    t0, rows, metric_count = 1_700_000_000.0, [], 0
    with engine.begin() as conn:
        conn.execute(insert(StudyRow), [dict(id=s + 1, name=f"study-{s:02d}", description="",
                                             created_at=t0) for s in range(studies)])
        for index in range(runs):
            status = STATUSES[index % len(STATUSES)]
            modality = index % 2 == 1
            rows.append(dict(
                id=f"{index:032x}", study_id=index % studies + 1,
                arm="MiniLM E2E" if modality else "IDRec", trial_number=index,
                spec_json=specs[index % len(specs)],
                spec_key=f"{index // 3:016x}", seed=index % 3, dataset="mind",
                encoder="text:minilm-l6" if modality else "id", backbone="sasrec",
                status=status, status_reason="", error="", host="gpu-box", device="cuda:0",
                pid=1000 + index, started_at=t0 + index, heartbeat_at=t0 + index + 60,
                finished_at=t0 + index + 60, selection_metric="ndcg@10", best_epoch=epochs - 3,
                best_value=0.05 + (index % 97) / 1000, last_epoch=epochs - 1,
                checkpoint_path="", protocol="full-ranking, history masked",
                trainable_params=10**6, total_params=2 * 10**7, flops_per_sample=3e9,
                seconds_per_epoch=60.0 + index % 7, peak_memory_bytes=(index % 9 + 1) * 2**30))
        conn.execute(insert(RunRow), rows)
        for row in rows:
            metrics = []
            for epoch in range(epochs):
                value = 0.05 + 0.003 * epoch
                metrics += [dict(run_id=row["id"], split=split, epoch=epoch, name=name, value=v)
                            for split, name, v in (
                                ("train", "loss", 1.0 - 0.02 * epoch), ("train", "seconds", 60.0),
                                ("train", "lr_rest", 1e-4), ("valid", "hr@10", 2 * value),
                                ("valid", "ndcg@10", value))]
            if row["status"] == "completed":
                metrics += [dict(run_id=row["id"], split="test", epoch=row["best_epoch"],
                                 name=name, value=0.1) for name in ("hr@10", "ndcg@10")]
            conn.execute(insert(MetricRow), metrics)
            metric_count += len(metrics)
    engine.dispose()
    return metric_count, rows[0]["id"]


async def refresh_ms(pilot, screen, prepare: Callable[[], None] | None = None) -> tuple[float, float]:
    """One poll of `screen`, timed: its load, then applying the result and painting.
    `prepare` (not timed) changes something first."""
    if prepare is not None:
        prepare()
        await pilot.pause()
    started = time.perf_counter()
    message = screen.fetch(screen.fetch_args())
    loaded = time.perf_counter()
    screen._busy = True  # as if the worker had posted it
    getattr(screen, message.handler_name)(message)
    await pilot.pause()
    return 1000 * (loaded - started), 1000 * (time.perf_counter() - loaded)


def report(label: str, samples: list[tuple[float, float]]) -> float:
    load = statistics.median(sample[0] for sample in samples)
    show = statistics.median(sample[1] for sample in samples)
    total = statistics.median(sample[0] + sample[1] for sample in samples)
    print(f"{label:<52} {total:7.1f} ms  (load {load:6.1f} ms, show {show:6.1f} ms)")
    return total


def new_epoch(store_path: Path, run_id: str, epoch: int) -> None:
    """What a training run records each epoch: its loss and validation metrics."""
    store = Store(store_path)
    store.record(ev.EpochEnded(run_id=run_id, epoch=epoch, loss=0.5, learning_rates={"rest": 1e-4},
                               seconds=60.0))
    store.record(ev.Evaluated(run_id=run_id, epoch=epoch, split="valid",
                              metrics={"hr@10": 0.3, "ndcg@10": 0.15}))
    store.close()


async def measure(store_path: Path, runs_dir: Path, run_id: str, epochs: int,
                  repeats: int, size: tuple[int, int]) -> tuple[list[float], list[float]]:
    from morec_tui.app import make_app
    from morec_tui.messages import OpenRun, OpenStudy
    from morec_tui.screens.run_detail import RunDetailScreen
    from morec_tui.screens.runs import RunsScreen
    from morec_tui.screens.study import StudyScreen

    app = make_app(str(store_path), runs_dir=runs_dir, gpus=[], poll_s=3600, reap_s=3600)
    totals: list[float] = []
    study_totals: list[float] = []
    async with app.run_test(size=size) as pilot:
        # Loaded, every run (the first load draws the newest runs; the rest follow).
        while not (isinstance(app.screen, RunsScreen) and app.screen.loads
                   and app.screen.partial is None):
            await pilot.pause(0.05)
        runs = app.screen
        baseline = []
        for _ in range(repeats):
            started = time.perf_counter()
            await pilot.pause()
            baseline.append(1000 * (time.perf_counter() - started))
        print(f"{'(the pilot waiting for a paint with nothing to paint)':<52} "
              f"{statistics.median(baseline):7.1f} ms, included in each show below")
        def forget() -> None:  # as on opening the dashboard: every run is new
            runs._versions, runs.runs, runs.tests, runs._finished = {}, [], {}, ()
            runs._row_cache = {}

        first = [await refresh_ms(pilot, runs, forget) for _ in range(max(3, repeats // 3))]
        report("runs screen, first load (every run new)", first)
        next_epoch = iter(range(epochs, epochs + 10 * repeats))

        def train() -> None:
            new_epoch(store_path, run_id, next(next_epoch))

        trained = [await refresh_ms(pilot, runs, train) for _ in range(repeats)]
        totals.append(report("runs screen, poll after a run's new epoch", trained))
        idle = [await refresh_ms(pilot, runs) for _ in range(repeats)]
        totals.append(report("runs screen, poll with nothing new", idle))

        resorted = []
        for _ in range(repeats):  # a key press, not a poll: no load
            started = time.perf_counter()
            runs.sort = "valid" if runs.sort != "valid" else "newest"
            await pilot.pause()
            resorted.append((0.0, 1000 * (time.perf_counter() - started)))
        report("runs screen, a new sort (every row moves)", resorted)

        app.post_message(OpenRun(run_id))
        while not (isinstance(app.screen, RunDetailScreen) and app.screen.loads):
            await pilot.pause(0.05)
        detail = app.screen
        curves = [await refresh_ms(pilot, detail, train) for _ in range(repeats)]
        points = detail.run.last_epoch + 1 if detail.run and detail.run.last_epoch else 0
        totals.append(report(f"one run's curves, poll after a new epoch (~{points} epochs)",
                             curves))
        same = [await refresh_ms(pilot, detail) for _ in range(repeats)]
        report("one run's curves, poll with nothing new", same)

        await pilot.press("escape")
        app.post_message(OpenStudy("study-00"))
        while not (isinstance(app.screen, StudyScreen) and app.screen.loads):
            await pilot.pause(0.05)
        study = app.screen

        def forget_study() -> None:  # as on opening it: nothing shown yet
            study._finished = None

        opened = [await refresh_ms(pilot, study, forget_study) for _ in range(max(3, repeats // 3))]
        trials = len(study.trials)
        study_totals.append(report(f"study view, opened ({trials:,} trials)", opened))
        polled = [await refresh_ms(pilot, study, train) for _ in range(repeats)]
        study_totals.append(report("study view, poll after a run's new epoch", polled))
    return totals, study_totals


STARTUP_CHILD = """
import asyncio, sys, time
started = time.perf_counter()
old = sys.argv[2] == "old"
if old:
    import scipy.stats  # noqa: F401  (main imported it with morec_core.results.stats)
import morec_tui.screens.runs as runs_screen
from morec_tui.app import make_app
from morec_tui.widgets.runs_table import RunsTable

if old:
    runs_screen.FIRST_PAGE = 0  # every run read and formatted before the first paint
painted = []
render_line = RunsTable.render_line

def timed(self, y):
    if y > 0 and self.keys and not painted:
        painted.append(time.perf_counter())
    return render_line(self, y)

RunsTable.render_line = timed

async def start():
    app = make_app(sys.argv[1], runs_dir=sys.argv[3], gpus=[], poll_s=3600, reap_s=3600)
    async with app.run_test(size=(120, 40)):
        while not painted:
            await asyncio.sleep(0.005)
    print(painted[0] - started)

asyncio.run(start())
"""


def startup_seconds(store_path: Path, runs_dir: Path, path: str) -> float:
    """Seconds from a fresh Python's start to the runs table's first painted row."""
    import subprocess

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", STARTUP_CHILD, str(store_path), path, str(runs_dir)],
        capture_output=True, text=True, check=True, cwd=root, timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)})
    return float(result.stdout.strip().splitlines()[-1])


def measure_startup(store_path: Path, runs_dir: Path, times: int) -> float:
    samples: dict[str, list[float]] = {"new": [], "old": []}
    for _ in range(times):
        for path in ("new", "old"):  # alternating: a load spike hits both
            samples[path].append(startup_seconds(store_path, runs_dir, path))
    new, old = (statistics.median(samples[path]) for path in ("new", "old"))
    print(f"{'startup to a painted runs table':<52} {1000 * new:7.1f} ms  "
          f"(old path {1000 * old:.1f} ms: {old / new:.1f}x faster; "
          f"samples new {', '.join(f'{value:.2f}' for value in samples['new'])} s, "
          f"old {', '.join(f'{value:.2f}' for value in samples['old'])} s)")
    return new


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=20,
                        help="epochs per run: 5 metric rows each (+2 test rows when completed)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--size", default="120x40", help="terminal columns x lines")
    parser.add_argument("--startups", type=int, default=3,
                        help="fresh processes timed per path for the startup (0: skip)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="morec-bench-tui-") as scratch:
        store_path = Path(scratch) / "morec.db"
        started = time.perf_counter()
        metric_rows, run_id = fill(store_path, arguments.runs, arguments.epochs)
        print(f"store: {arguments.runs:,} runs, {metric_rows:,} metric rows "
              f"(filled in {time.perf_counter() - started:.1f} s); "
              f"{os.cpu_count()} CPUs on {socket.gethostname()}")
        print(f"load average {os.getloadavg()[0]:.1f}")
        startup = (measure_startup(store_path, Path(scratch) / "runs", arguments.startups)
                   if arguments.startups else 0.0)
        columns, lines = (int(part) for part in arguments.size.split("x"))
        totals, study_totals = asyncio.run(measure(
            store_path, Path(scratch) / "runs", run_id, arguments.epochs, arguments.repeats,
            (columns, lines)))
    worst, worst_study = max(totals), max(study_totals)
    print(f"slowest refresh {worst:.1f} ms: {'within' if worst < 200 else 'OVER'} the 200 ms target")
    print(f"slowest study view {worst_study:.1f} ms: "
          f"{'within' if worst_study < 500 else 'OVER'} the 500 ms target")
    if arguments.startups:
        print(f"startup {startup:.2f} s: {'within' if startup < 1.5 else 'OVER'} the 1.5 s target")
    return 0 if worst < 200 and worst_study < 500 and startup < 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
