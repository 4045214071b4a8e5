"""The study's front door: what `morec tune`, its local worker processes, the dashboard's study
jobs and the Slurm worker jobs ask for, resolved once, and the two steps every one of them takes.

- `StudyRequest` (morec_core.study.study_request, named here): a study and how to run it, resolved
  in one order, with the one encoding of a request on a command line.
- `prepare(request, store_url)`: the preflight (missing data folders or models, data views that
  cannot be prepared), then the store and Optuna's storage, the grid queued and failed trials
  queued again. Nothing is queued when the preflight finds a problem.
- `work(request, store_url, runs_dir)`: one worker draining the study's queue (morec_core.study.tune).
- `run_local_workers(...)`: N worker processes on this machine, `python -m
  morec_core.study_launch --storage URL <request>`, each seeing its own GPU or its share of cores.

Nothing here imports the shell: lines for the user go through the caller's `echo`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from morec_core.config import ConfigError
from morec_core.processes import PARENT_ENV, end_with_parent, interrupt_once
from morec_core.study.study_request import StudyRequest, request_parser

STOP_GRACE_S = 60
"""How long a stopped worker gets to queue its trial again before it is killed."""

if TYPE_CHECKING:
    from morec_core.run import events as ev
    from morec_core.study.studies import GridPoint, Study

Echo = Callable[[str], None]
"""Where a line for the user goes (stderr, a log)."""


class StudyError(ValueError):
    """A study that cannot start, said in one line."""


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """A study queued and ready for its workers."""
    study: Study
    store_url: str
    added: int
    """Grid points newly queued."""
    retried: int
    """Failed grid points queued again."""
    grid_points: int
    audit: tuple[str, ...] = field(default=())
    """What the preflight says of each data view (where its content came from, warnings)."""

    def line(self) -> str:
        first, *others = self.study.seed_values
        then = (f", then each arm's best on {len(others)} more seed{'s' * (len(others) > 1)}"
                if others else "")
        again = f", {self.retried} failed queued again" if self.retried else ""
        return (f"study {self.study.name}: {self.grid_points} grid points on seed {first}{then} "
                f"({self.added} newly queued{again}); store {self.store_url}")


def preflight(definition: Study) -> list[str]:
    """Before the store or Optuna is touched: a study that cannot run queues nothing (nine
    trials failing on one missing folder, and then retried by no one, was issue 14). Each
    distinct data view is prepared once, here: a wrong column or setting is one line and nothing
    queued, not one failed trial per grid point (issue 22). Returns the data views' audit lines;
    raises StudyError."""
    from morec_core.study.study_preflight import requirements_of

    requirements = requirements_of(definition)
    missing = requirements.missing()
    if missing:
        raise StudyError(f"study {definition.name}: {'; '.join(missing)}")
    problems, audit = requirements.check_data()
    if problems:
        raise StudyError(f"study {definition.name}: {'; '.join(problems)}")
    return audit


def prepare(request: StudyRequest, store_url: str, *, retry_failed: bool = True) -> Prepared:
    """The preflight, then the study's grid queued on Optuna (and, retry_failed, its failed
    trials queued again). Raises StudyError or ConfigError, before anything is queued."""
    from morec_core.paths import optuna_url_for
    from morec_core.store import Store
    from morec_core.study.tune import enqueue_grid, optuna_storage, requeue_failed

    definition = request.resolve()
    audit = preflight(definition)
    store = Store(store_url)
    storage = optuna_storage(optuna_url_for(store_url), store)
    added = enqueue_grid(definition, storage, store)
    retried = requeue_failed(definition, storage, store) if retry_failed else []
    return Prepared(study=definition, store_url=store_url, added=added, retried=len(retried),
                    grid_points=len(definition.points()), audit=tuple(audit))


def trial_line(point: GridPoint, status: str, reason: str) -> str:
    """A trial's end as a worker says it."""
    because = f" ({reason})" if reason else ""
    return f"trial {point.arm} {point.params} seed {point.seed}: {status}{because}"


def progress_sinks(every_s: float) -> Callable[[GridPoint], list[ev.Sink]]:
    """Per trial: progress lines for a log (the workers' files, a redirected tune); none for a
    terminal, which keeps the trial lines alone."""
    from morec_core.run.run_console import ProgressLines

    def sinks(point: GridPoint) -> list[ev.Sink]:
        if sys.stderr.isatty():
            return []
        return [ProgressLines(epochs=point.spec.train.epochs,
                              batch_size=point.spec.train.batch_size, every_s=every_s,
                              prefix=f"  trial {point.arm} seed {point.seed}: ",
                              epoch_lines=True, metric=point.spec.eval.selection_metric)]

    return sinks


def work(request: StudyRequest, store_url: str, runs_dir: Path, *,
         on_trial: Callable[[GridPoint, str, str], None] | None = None,
         trial_sinks: Callable[[GridPoint], Sequence[ev.Sink]] | None = None,
         definition: Study | None = None) -> int:
    """One worker: claim and run the study's trials until none is left; returns how many ran
    here (morec_core.study.tune.work). definition: the request's Study, when the caller resolved it."""
    from morec_core.paths import optuna_url_for
    from morec_core.study.tune import work as work_trials

    return work_trials(definition or request.resolve(), store_url, optuna_url_for(store_url),
                       runs_dir, on_trial=on_trial, trial_sinks=trial_sinks,
                       compile_networks=request.compile_networks,
                       processes_per_trial=request.processes_per_trial)


def worker_argv(request: StudyRequest, store_url: str) -> list[str]:
    """The command line of one local worker process."""
    return [sys.executable, "-m", "morec_core.study_launch", "--storage", store_url,
            *request.to_argv()]


def run_local_workers(request: StudyRequest, store_url: str, gpus: Sequence[str | None],
                      runs_dir: Path, echo: Echo) -> list[str]:
    """One worker process per entry of `gpus` (a GPU index, or None for a share of the CPU
    cores), each logging to runs_dir/logs; returns what went wrong with any of them (empty when
    every worker ended well). On KeyboardInterrupt the workers are stopped (each queues its
    trial again) and it is raised again."""
    from morec_core.study.tune import worker_env

    logs = runs_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes = []
    for index, gpu in enumerate(gpus):
        log = (logs / f"{Path(request.study).stem}-worker{index}.log").open("a")
        # PARENT_ENV: the worker ends with this process (processes.end_with_parent) and leaves
        # Ctrl-C to it: the terminal's SIGINT reaches the whole group, and this process then
        # stops each worker once (SIGTERM: the worker re-queues its trial), instead of SIGINT
        # landing in a worker at any point of a claim.
        processes.append(subprocess.Popen(
            worker_argv(request, store_url),
            env={**worker_env(gpu, len(gpus)), PARENT_ENV: str(os.getpid())}, stdout=log,
            stderr=subprocess.STDOUT))
        echo(f"worker {index}{f' on GPU {gpu}' if gpu else ''}: log {log.name}")
    try:
        for process in processes:
            process.wait()
    except KeyboardInterrupt:
        for process in processes:
            process.terminate()  # each worker re-queues its trial before it exits
        for process in processes:
            try:
                process.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:  # stuck: its trial is recovered as a dead one's
                process.kill()
                process.wait()
        raise
    # The other workers ran the failed ones' trials again (a worker waits for the trials that
    # run elsewhere); the caller's exit code still says that something went wrong.
    return [f"worker {index} " + (f"was killed by signal {-process.returncode}"
                                  if process.returncode < 0
                                  else f"exited with code {process.returncode}")
            for index, process in enumerate(processes) if process.returncode != 0]


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m morec_core.study_launch --storage URL --study S ...`: one local worker."""
    import signal

    from morec_core import paths
    from morec_core.run.run_console import progress_line_seconds

    parser = argparse.ArgumentParser(prog="python -m morec_core.study_launch",
                                     parents=[request_parser()])
    parser.add_argument("--storage", required=True)
    arguments = list(sys.argv[1:] if argv is None else argv)
    options = parser.parse_args(arguments)
    try:
        request = StudyRequest.from_argv(arguments)
        definition = request.resolve()
        every_s = progress_line_seconds()
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # SIGTERM (a parent's stop, scancel) and SIGUSR2 (`--signal=USR2` before a time limit)
    # alike: the trial is queued again and the run resumes from its checkpoint.
    signal.signal(signal.SIGTERM, interrupt_once)
    signal.signal(signal.SIGUSR2, interrupt_once)
    if end_with_parent(signal.SIGTERM):  # a local worker of `morec tune`: it handles Ctrl-C
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def report(point: GridPoint, status: str, reason: str) -> None:
        print("  " + trial_line(point, status, reason), file=sys.stderr, flush=True)

    from morec_core.store import StoreError

    try:
        work(request, options.storage, paths.runs_dir(), on_trial=report,
             trial_sinks=progress_sinks(every_s), definition=definition)
    except KeyboardInterrupt:  # its trial was queued again
        print("worker stopped by a signal; its trial, if one ran, is queued again",
              file=sys.stderr, flush=True)
        return 130
    except (ConfigError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
