"""`morec plan`: a study's cost on this machine before it runs (morec_core/study/plan.py)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from morec_tui.commands.study import STORE_HELP
from morec_tui.console import fail

PlanFormat = Literal["table", "json"]


def plan_command(
    study: Annotated[str, typer.Option(help="Study name from studies/ (e.g. demo), or the path "
                                            "of a study module.")],
    gpus: Annotated[str | None, typer.Option(
        help="Comma-separated GPU indices the study would use, one worker each: measured on "
             "the first (and the wall time counts them all).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes on this machine "
                                                     "(ignored with --gpus).")] = 1,
    slurm_jobs: Annotated[int | None, typer.Option(
        min=1, help="Slurm jobs the study would run in (one trial each at a time), for the "
                    "wall time; measured on this machine.")] = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="section.key=value on top of the study's settings, for every arm.")] = None,
    output_format: Annotated[PlanFormat, typer.Option("--format", help="table | json")] = "table",
    steps: Annotated[int, typer.Option(min=1, help="Training steps timed per configuration, "
                                                   "after the warm-up ones.")] = 5,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed steps first.")] = 2,
    storage: Annotated[str | None, typer.Option(help=STORE_HELP + " Read only, for the "
                                                "epochs the study's finished runs took.")] = None,
) -> None:
    """Measure what a study will cost before running it: for every distinct configuration of
    its arms, build the real model on the real data and time a few training steps and one
    evaluation on this machine (CPU, or the first of --gpus), then print s/epoch, evaluation
    time, peak memory (and whether it fits), one-time setup, and the study's trials, device-
    hours and wall time (at most train.epochs per trial; expected from the study's finished
    runs in the store). Writes nothing to the store and queues nothing; the plan is kept in
    <runs>/plans/<study>.json for `morec report`'s planned-vs-measured cost."""
    from morec_core import paths
    from morec_core.config import ConfigError
    from morec_core.store import Store, StoreError
    from morec_core.study.plan import make_plan, plan_path, save_plan
    from morec_core.study.plan_format import plan_lines
    from morec_core.study.studies import find_study
    from morec_core.study.study_preflight import requirements_of

    try:
        definition = find_study(study)
        if overrides:
            definition = definition.renamed_with(definition.name, overrides)
    except ConfigError as error:
        fail(str(error))
    missing = requirements_of(definition).missing()
    if missing:
        fail(f"plan {definition.name}: {'; '.join(missing)}")
    visible_gpu, kind, count, notes = _devices(gpus, definition)
    if slurm_jobs:
        kind, count = "Slurm jobs", slurm_jobs
    elif not gpus:
        count = workers
    store_url = storage or paths.default_store_url()
    runs = None
    if overrides:
        notes.append("--set: the store's runs had other settings; expected epochs not read")
        runs = []
    else:
        try:
            with Store(store_url, read_only=True) as store:
                runs = store.runs(study=definition.name)
        except StoreError as error:
            notes.append(f"expected epochs unknown: {error}")
    typer.echo(f"plan {definition.name}: measuring each configuration (a few steps each)...",
               err=True)
    plan = make_plan(definition, store_runs=runs, store=store_url, workers=count,
                     worker_kind=kind, visible_gpu=visible_gpu, warmup=warmup, steps=steps,
                     notes=notes)
    path = plan_path(paths.runs_dir(), definition.name)
    try:
        save_plan(plan, path)
        typer.echo(f"plan saved to {path} (morec report shows it beside the measured cost)",
                   err=True)
    except OSError as error:
        typer.echo(f"note: plan not saved to {path}: {error.strerror or error}", err=True)
    typer.echo(plan.to_json() if output_format == "json" else "\n".join(plan_lines(plan)))
    if any(row.measurement is None for row in plan.rows):
        raise typer.Exit(code=1)


def _devices(gpus: str | None, definition) -> tuple[str | None, str, int, list[str]]:
    """(the GPU to measure on, what the workers are, how many, notes); a device that is not
    here ends the command with one line."""
    from morec_core.run.devices import place

    notes: list[str] = []
    if not gpus:
        for spec in {point.spec.train.device: point.spec for point in definition.points()}.values():
            try:
                place(spec.train.device, spec.train.precision)
            except RuntimeError as error:
                fail(f"plan {definition.name}: {error}")
        return None, "local workers", 1, notes
    import torch

    indices = [part.strip() for part in gpus.split(",") if part.strip()]
    if not torch.cuda.is_available():
        fail(f"--gpus {gpus}: this machine has no CUDA device")
    count = torch.cuda.device_count()
    bad = [index for index in indices if not index.isdigit() or int(index) >= count]
    if bad:
        fail(f"--gpus {gpus}: no GPU {bad[0]} here (indices 0..{count - 1})")
    names = {index: torch.cuda.get_device_name(int(index)) for index in indices}
    others = sorted({name for name in names.values() if name != names[indices[0]]})
    if others:
        notes.append(f"measured on GPU {indices[0]} ({names[indices[0]]}); the other kinds "
                     f"({', '.join(others)}) were not measured: the wall time assumes every GPU "
                     "is as fast")
    return indices[0], "GPUs", len(indices), notes
