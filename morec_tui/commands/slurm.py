"""`morec tune --launcher slurm` (submitting a study's workers) and `morec cancel`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from morec_tui.console import fail

if TYPE_CHECKING:
    from morec_core.study.slurm_config import SlurmSettings
    from morec_core.study_launch import StudyRequest

Launcher = Literal["local", "slurm"]

LAUNCHER_HELP = ("local: workers on this machine (--workers, --gpus). slurm: `--slurm jobs=N` "
                 "worker jobs on a Slurm cluster through submitit, each draining the study's "
                 "queue; needs a PostgreSQL --storage and folders every node sees.")
SLURM_HELP = ("A Slurm setting as key=value, on top of --slurm-config: jobs, partition, "
              "time_min, gpus_per_trial, cpus_per_task, mem_gb, account, qos, signal_delay_s, "
              "max_requeues, extra.<sbatch option> (e.g. extra.constraint=a100).")
SLURM_CONFIG_HELP = "A TOML file whose [slurm] table holds the Slurm settings (see --slurm)."


def slurm_settings(config: Path | None, options: list[str]) -> SlurmSettings:
    """The settings of the options, on top of the file's [slurm] table. Raises ConfigError."""
    from morec_core.study.slurm_config import SlurmSettings

    settings = SlurmSettings.from_toml(config) if config is not None else SlurmSettings()
    return settings.with_options(options)


def submit_study(request: StudyRequest, store_url: str, settings: SlurmSettings) -> None:
    """Submit the study's worker jobs and say where their logs go; the study was queued."""
    import dataclasses

    from morec_core import paths
    from morec_core.study.slurm import WorkerTask, submit_workers

    # Absolute: the jobs start in this folder, on other nodes; what they read must be shared.
    where = Path(request.study)
    runs_dir = paths.runs_dir().resolve()
    request = dataclasses.replace(
        request, study=str(where.resolve()) if where.exists() else request.study,
        processes_per_trial=max(1, settings.gpus_per_trial))
    task = WorkerTask(request_argv=tuple(request.to_argv()), store_url=store_url,
                      runs_dir=str(runs_dir), data_dir=str(paths.data_dir().resolve()),
                      job_name=request.name or where.stem)
    try:
        job_ids = submit_workers(task, settings)
    except Exception as error:  # noqa: BLE001 - submitit's errors: sbatch missing or refusing
        fail(f"--launcher slurm: submitting failed: {str(error).strip().splitlines()[-1]}",
             code=1)
    typer.echo(f"submitted {len(job_ids)} Slurm job{'s' * (len(job_ids) > 1)}: "
               f"{', '.join(job_ids)}; logs in {runs_dir / 'slurm'}/<job id>/; "
               "`morec cancel <job id>` cancels one", err=True)


def cancel_command(
    job: Annotated[str, typer.Argument(help="A Slurm job id of morec's (the dashboard's jobs "
                                            "screen, or `squeue --me`).")],
) -> None:
    """Cancel one of morec's Slurm jobs (scancel). Its running trial checkpoints and is queued
    again, resumable: another worker, or the next `morec tune --launcher slurm`, resumes it."""
    from morec_core.study.slurm_jobs import SlurmError, cancel

    try:
        name = cancel(job)
    except SlurmError as error:
        fail(str(error))
    typer.echo(f"job {job} ({name}): cancelled (scancel)", err=True)
