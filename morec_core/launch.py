"""The engine's front door for a run: every caller (`morec run`, `morec tune`'s trials, the
dashboard's jobs, DDP trials, a cluster launcher) turns its options into a spec here, runs a spec
here, and starts a run in a process of its own with the one command line here.

- `spec_from_options`: the headline options (dataset, path, item encoder, model, backbone) and
  `section.key=value` overrides -> a RunSpec, one mapping for the CLI and the dashboard's form.
- `queue_run`: the run's row exists, status `queued`, with its id, before any process starts
  it: the dashboard knows its runs by id, and a job cancelled before its process ran leaves a
  run that says so.
- `execute`: one spec to its end with the standard sinks (the store first, so that the epoch a
  run collapsed at is recorded; then the collapse detector; then the caller's), the heartbeat, and the
  run's row marked `starting` before data loads, so a failure while loading is a `failed` run
  with its reason. Returns the final status.
- `run_folder`: where a run keeps its checkpoints, the one owner of that layout.
- `resume_spec`: the rules of continuing a recorded run (its spec and study from the store; not
  while its process is still at it).
- `run_process_argv` (morec_core.run.run_process, named here): the one command line of a run process, `python -m morec_core.launch RUN_ID
  --storage URL`: it continues the run recorded (or queued) under RUN_ID, under torchrun when
  it asks for several processes. The dashboard's jobs, DDP trials and `morec run
  --nproc-per-node` start it; the engine never starts the shell.
- `reevaluate`: a recorded run's best checkpoint evaluated again (`morec compare --recompute`).

Torch-free at import (the training loop is imported when a run executes).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from morec_core import paths
from morec_core.config import ConfigError, RunSpec
from morec_core.processes import host_label, interrupt_once
from morec_core.run import events as ev
from morec_core.run.collapse import CollapseDetector
from morec_core.run.run_context import RunContext
from morec_core.run.run_process import ENTRY, run_process_argv, torchrun_argv
from morec_core.run.runner import drive
from morec_core.store import RunRecord, Store, StoreError, run_process_alive


class LaunchError(ValueError):
    """A run that cannot be started or continued, said in one line."""


def spec_from_options(*, dataset: str = "demo", path: str = "", encoder: str = "id",
                      model: str = "", backbone: str = "sasrec",
                      overrides: Sequence[str] = (), preset: str = "") -> RunSpec:
    """The spec of `morec run`'s options (and the dashboard form's fields): the preset's
    settings (morec_core.presets), then the overrides. Raises ConfigError naming the setting."""
    from morec_core.presets import find_preset

    chosen = find_preset(preset).run_overrides() if preset else ()
    return RunSpec().with_overrides([
        f"data.source={dataset}", f"data.path={path}", f"encoder.name={encoder}",
        f"encoder.model={model}", f"backbone.name={backbone}", *chosen, *overrides])


def queue_run(store: Store, spec: RunSpec, *, run_id: str | None = None,
              study: str | None = None, arm: str | None = None) -> str:
    """Record a run that a process will start later (status `queued`); returns its id."""
    run_id = run_id or ev.new_run_id()
    store.create_run(run_id, spec.to_dict(), spec.spec_key, status="queued", study=study,
                     arm=arm, selection_metric=spec.eval.selection_metric)
    return run_id


def execute(spec: RunSpec, context: RunContext, store: Store, *,
            sinks: Sequence[ev.Sink] = (), stop_on_collapse: bool = True,
            heartbeat: Callable[[], None] | None = None, record: bool = True) -> str:
    """Run `spec` to its end; returns its final status (completed, pruned, collapsed...).

    sinks: the caller's (a console, a pruner), after the standard ones. heartbeat: the caller's
    own beat, after the store's (e.g. the trial's). record=False (the ranks of a DDP run other
    than rank 0): no sinks, no heartbeat, no store writes. Raises what the run raised, after
    recording it as `failed` (or `cancelled` for KeyboardInterrupt).
    """
    from morec_core.run.train import iter_run

    if not record:
        return drive(iter_run(spec, context), [], run_id=context.run_id)
    # Before data loads: a run failing there is then a `failed` row with its reason.
    store.create_run(context.run_id, spec.to_dict(), spec.spec_key, status="starting",
                     study=context.study, arm=context.arm, trial_number=context.trial_number,
                     selection_metric=spec.eval.selection_metric)
    stop_on_collapse = stop_on_collapse and spec.train.stop_on_collapse
    # The store before the detector: the epoch that collapsed (its loss, NaN included, and its
    # metrics) is recorded, and then the run ends `collapsed`.
    standard: list[ev.Sink] = [store, *([CollapseDetector()] if stop_on_collapse else [])]

    def beat() -> None:
        if heartbeat is not None:  # the caller's first: a trial's liveness decides its retry
            heartbeat()
        store.heartbeat(context.run_id)

    return drive(iter_run(spec, context), [*standard, *sinks], run_id=context.run_id,
                 heartbeat=beat)


def run_folder(runs_dir: Path, run_id: str) -> Path:
    """A run's own folder under the runs folder: its checkpoints (last.pt, best.pt). ValueError
    for a run id that is no folder name (`paths.run_folder`)."""
    return paths.run_folder(run_id, runs_dir)


def resume_spec(store: Store, run_id: str, *, check_alive: bool = True
                ) -> tuple[RunSpec, str | None]:
    """The spec and study of the run recorded under `run_id`, to continue it from its last
    checkpoint. Raises LaunchError while the process that records it is still at it (two
    processes on one run id would write one checkpoint folder and one row); check_alive=False
    in the ranks torchrun started, which find their own parent's run alive."""
    previous = store.run(run_id)
    if check_alive and run_process_alive(previous):
        where = (f"pid {previous.pid}" if previous.host == host_label()
                 else f"{previous.host}, pid {previous.pid}")
        raise LaunchError(f"run {run_id} is still being trained ({where}); stop that process "
                          "first")
    return previous.run_spec, previous.study


@dataclass(frozen=True, kw_only=True)
class Reevaluated:
    run_id: str
    splits: tuple[str, ...] = ()
    problem: str = ""
    """Why nothing was evaluated (no checkpoint, a spec this morec cannot read...)."""


def reevaluate(store: Store, run: RunRecord, runs_dir: Path) -> Reevaluated:
    """Per-user results for a run recorded before morec kept them (`morec compare
    --recompute`): the run is built again from its stored spec, its best checkpoint is loaded,
    and validation and the test splits are evaluated once more under the run's own tie rule and
    k; the results go to the store, the run itself is left as it was (status, metrics, curves).
    Never raises for a run that cannot be redone: the reason is returned."""
    from morec_core.run import checkpoint
    from morec_core.run.build import build_run
    from morec_core.run.devices import place

    if run.best_epoch is None:
        return Reevaluated(run_id=run.id, problem="no best epoch recorded")
    # From the runs folder and the run id only: a path recorded in a row (perhaps a shared
    # store's) is never opened.
    try:
        best = run_folder(runs_dir, run.id) / "best.pt"
    except ValueError as error:
        return Reevaluated(run_id=run.id, problem=str(error))
    if not best.is_file():
        elsewhere = ""
        if run.checkpoint_path and Path(run.checkpoint_path).parent != best.parent:
            elsewhere = (f" (it trained with its checkpoints in {Path(run.checkpoint_path).parent};"
                         " set MOREC_RUNS_DIR to that runs folder)")
        return Reevaluated(run_id=run.id, problem=f"{best}: no best checkpoint{elsewhere}")
    try:
        spec = run.run_spec
    except ConfigError as error:
        return Reevaluated(run_id=run.id, problem=f"stored spec: {error}")
    placement = place(spec.train.device, spec.train.precision)
    built = build_run(spec, placement.device)
    built.model.load_state_dict(checkpoint.load_weights(best)["model"])
    # item_table and evaluate run in eval and inference mode themselves.
    with placement.autocast():
        table = built.item_table()
        splits = ["valid", *built.test_splits()]
        for split in splits:
            store.put_user_results(run.id, split, run.best_epoch, built.evaluate(split, table))
    return Reevaluated(run_id=run.id, splits=tuple(splits))


# --- the run process ------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m morec_core.launch RUN_ID --storage URL`: continue the run recorded under
    RUN_ID to its end. Exit 0 when it completed, 1 when it ended otherwise, 2 when it could not
    start or failed on a bad setting or file (one line on stderr), 130 when cancelled."""
    from morec_core.run import preemption
    from morec_core.run.distributed import is_main_process
    from morec_core.run.run_console import (
        ConsoleSink,
        cancelled_line,
        interrupted_line,
        start_lines,
    )

    parser = argparse.ArgumentParser(prog=f"python -m {ENTRY}")
    parser.add_argument("run_id")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--nproc-per-node", type=int, default=1)
    parser.add_argument("--no-stop-on-collapse", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    options = parser.parse_args(argv)
    # Set in the processes torchrun starts, not in the one the caller started.
    launched = "LOCAL_RANK" in os.environ
    try:
        run_dir = run_folder(paths.runs_dir(), options.run_id)
        store = Store(options.storage)
        spec, study = resume_spec(store, options.run_id, check_alive=not launched)
    except (LaunchError, ConfigError, StoreError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if options.nproc_per_node > 1 and not launched:
        command = run_process_argv(options.run_id, options.storage,
                                   stop_on_collapse=not options.no_stop_on_collapse,
                                   quiet=options.quiet)
        return subprocess.call(torchrun_argv(options.nproc_per_node, command))
    main_process = is_main_process()
    context = RunContext(run_id=options.run_id, run_dir=run_dir, study=study, resume=True)
    # A `kill` (SIGTERM) ends the run as cancelled, like Ctrl-C, instead of leaving it running.
    signal.signal(signal.SIGTERM, interrupt_once)
    # SIGUSR2 (`sbatch --signal=USR2` before a time limit): a checkpoint at the step reached,
    # the run `interrupted`, instead of a death without one.
    preemption.install((signal.SIGUSR2,))
    if main_process:
        for line in start_lines(options.run_id, spec, store.url):
            print(line, file=sys.stderr, flush=True)
    try:
        status = execute(spec, context, store,
                         sinks=[ConsoleSink(spec, quiet=options.quiet or not main_process)],
                         stop_on_collapse=not options.no_stop_on_collapse, record=main_process)
    except KeyboardInterrupt:
        print(cancelled_line(options.run_id), file=sys.stderr)
        return 130
    except preemption.Preempted as stop:
        print(interrupted_line(options.run_id, stop), file=sys.stderr)
        return 128 + stop.signum
    except (ConfigError, ValueError, FileNotFoundError) as error:
        print(f"error: run {options.run_id} failed: {error}", file=sys.stderr)
        return 2
    return 0 if status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
