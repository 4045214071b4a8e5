"""The command lines a job runs: a run job's (the engine's run process), a study job's
(`morec tune`), and the runner's own (`python -m morec_tui.jobs JOB_ID --root DIR`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from morec_core.run.run_process import run_process_argv
from morec_core.study.study_request import StudyRequest


def morec_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "morec_tui.cli", *args]


def run_argv(run_id: str, store_url: str, *, stop_on_collapse: bool = True) -> list[str]:
    """A run job's command: the engine's run process for the run queued in the store under
    `run_id` (its spec is there)."""
    return run_process_argv(run_id, store_url, stop_on_collapse=stop_on_collapse)


def study_argv(study: str, store_url: str, *, compile_networks: bool = False,
               launcher: str = "local", slurm: Sequence[str] = (),
               slurm_config: str | None = None) -> list[str]:
    """A study job's command (`morec tune`, the study's options written by StudyRequest); with
    launcher slurm it submits the workers and returns. slurm: `key=value` Slurm settings
    (`--slurm`), on top of the `--slurm-config` file."""
    named, *options = StudyRequest(study=study, compile_networks=compile_networks).to_argv()[1:]
    argv = morec_argv("tune", "--study", named, "--storage", store_url)
    if launcher != "local":
        argv += ["--launcher", launcher]
        argv += [part for option in slurm for part in ("--slurm", option)]
        if slurm_config:
            argv += ["--slurm-config", slurm_config]
    return argv + options


def runner_argv(job_id: int, root: Path) -> list[str]:
    """A job's runner command; its arguments after the interpreter identify the runner."""
    return [sys.executable, "-m", "morec_tui.jobs", str(job_id), "--root", str(root)]
