"""`morec run`: train and evaluate one configuration, recording every event in the store."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Annotated

import typer

from morec_core.processes import interrupt_once
from morec_tui.commands.study import STORE_HELP
from morec_tui.console import ConsoleSink, fail


def run_command(
    dataset: Annotated[str, typer.Option(help="Dataset reader: demo, microlens, pairs, mind, hm, "
                                              "movielens, recbole, unisrec, rechorus, table "
                                              "(`morec data formats`).")] = "demo",
    path: Annotated[str, typer.Option(help="Folder of the raw dataset files (not needed for demo).")] = "",
    encoder: Annotated[str, typer.Option(help="Item encoder: id, text, vision, glove.")] = "id",
    model: Annotated[str, typer.Option(help="Pretrained model for text/vision/glove: a packaged "
                                            "short name (minilm-l6, mobilenetv2, glove-6b-50d), a "
                                            "local folder or a hub id.")] = "",
    backbone: Annotated[str, typer.Option(help="User encoder: sasrec, dssm.")] = "sasrec",
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="Override any setting: section.key=value (repeatable), e.g. "
                      "--set train.lr=5e-4 --set backbone.embed_dim=128.")] = None,
    store: Annotated[str | None, typer.Option("--storage", "--store", help=STORE_HELP)] = None,
    study: Annotated[str | None, typer.Option(help="Attach the run to this study in the store.")] = None,
    resume: Annotated[str | None, typer.Option(help="Continue the run with this id from its last "
                                                    "checkpoint (its spec comes from the store).")] = None,
    stop_on_collapse: Annotated[bool, typer.Option(
        help="End the run as `collapsed` when its loss is NaN or its validation metric falls "
             "to about zero (the paper's Figure 5).")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bar; one line per epoch.")] = False,
    nproc_per_node: Annotated[int, typer.Option(
        min=1, help="Processes (GPUs) for this one run, through torchrun and DDP; each trains "
                    "on its share of every epoch.")] = 1,
    preset: Annotated[str | None, typer.Option(
        help="Settings by name, before --set: paper (the paper code's SASRec block, BCE, "
             "HR@10 selection, patience 7, weight decay 0.1) or recbole.")] = None,
    print_spec: Annotated[bool, typer.Option(
        help="Print the run's full spec as JSON, and what the preset set, then exit.")] = False,
    run_id_option: Annotated[str | None, typer.Option("--run-id", hidden=True)] = None,
) -> None:
    """Train and evaluate one configuration (dataset x item encoder x backbone).

    Every event goes to the run store; the best epoch is chosen on validation and the test
    metrics of that epoch are printed at the end.
    """
    from morec_core import paths
    from morec_core.config import ConfigError
    from morec_core.launch import (
        LaunchError,
        RunContext,
        execute,
        queue_run,
        resume_spec,
        run_folder,
        spec_from_options,
    )
    from morec_core.run import preemption
    from morec_core.run.distributed import is_main_process
    from morec_core.run.events import new_run_id
    from morec_core.run.run_console import cancelled_line, interrupted_line, start_lines
    from morec_core.run.run_process import run_process_argv
    from morec_core.store import Store, StoreError

    main = is_main_process()
    # Set in the processes torchrun starts, not in the one the user started.
    launched = "LOCAL_RANK" in os.environ
    try:
        # The spec before the store: a rejected setting leaves no empty store behind.
        spec = None if resume else spec_from_options(
            dataset=dataset, path=path, encoder=encoder, model=model, backbone=backbone,
            overrides=overrides or (), preset=preset or "")
        if print_spec:
            _print_spec(spec, preset)
            return
        if resume and (overrides or preset):
            # A resumed run continues its own spec: settings changed halfway would make its
            # curve and its spec_key disagree.
            fail(f"--resume continues run {resume} with its recorded settings; "
                 f"{'--set' if overrides else '--preset'} is for a new run (leave out --resume)")
        for given in (resume, run_id_option):  # checked before the store is opened or made
            if given:
                paths.run_folder(given)
        run_store = Store(store or paths.default_store_url())
        if resume:
            # Checked once, before torchrun: rank 0's own RunStarted would fail the others.
            spec, recorded_study = resume_spec(run_store, resume, check_alive=not launched)
            run_id = resume
            study = study or recorded_study
        else:
            run_id = run_id_option or new_run_id()
        run_dir = run_folder(paths.runs_dir(), run_id)
    except (ConfigError, StoreError, LaunchError, ValueError) as error:
        fail(str(error))
    assert spec is not None
    if nproc_per_node > 1 and not launched:
        # The engine's run process fans out under torchrun; a new run is queued for it first.
        if not resume:
            queue_run(run_store, spec, run_id=run_id, study=study)
        command = run_process_argv(run_id, run_store.url, processes=nproc_per_node,
                                   stop_on_collapse=stop_on_collapse, quiet=quiet)
        raise typer.Exit(code=subprocess.call(command))

    context = RunContext(run_id=run_id, run_dir=run_dir, study=study, resume=bool(resume))
    console = ConsoleSink(spec, quiet=quiet or not main)
    # A `kill` (SIGTERM) ends the run as cancelled, like Ctrl-C, instead of leaving it running.
    signal.signal(signal.SIGTERM, interrupt_once)
    # SIGUSR2 (`sbatch --signal=USR2` before a time limit) would kill the process outright: the
    # loop checkpoints at the step it reached instead, and the run ends `interrupted`.
    preemption.install((signal.SIGUSR2,))
    if main:
        for line in start_lines(run_id, spec, run_store.url):
            typer.echo(line, err=True)
        if resume and not (run_dir / "last.pt").exists():
            typer.echo(f"run {run_id}: no checkpoint in {run_dir} (last.pt is missing): it "
                       "trains again from its first epoch", err=True)
    try:
        # Under torchrun only rank 0 records; the other ranks only train.
        status = execute(spec, context, run_store, sinks=[console],
                         stop_on_collapse=stop_on_collapse, record=main)
    except KeyboardInterrupt:
        typer.echo(cancelled_line(run_id), err=True)
        raise typer.Exit(code=130) from None
    except preemption.Preempted as stop:
        typer.echo(interrupted_line(run_id, stop), err=True)
        raise typer.Exit(code=128 + stop.signum) from None
    except (ConfigError, ValueError, FileNotFoundError) as error:
        fail(f"run {run_id} failed: {error}")
    if status != "completed":
        raise typer.Exit(code=1)


def _print_spec(spec, preset: str | None) -> None:
    """The spec as JSON on stdout; on stderr, each setting the preset made and its value."""
    import json

    from morec_core.presets import find_preset

    if spec is None:
        fail("--print-spec shows a new run's spec, not a resumed one's (that one is in the "
             "store, on the dashboard's Spec tab)")
    typer.echo(json.dumps(spec.to_dict(), indent=2, sort_keys=True))
    if preset:
        typer.echo(f"preset {preset}: {find_preset(preset).description}", err=True)
        for setting in find_preset(preset).run_overrides():
            typer.echo(f"  {setting}", err=True)
