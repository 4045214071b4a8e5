"""`morec tune` and `morec compare`: a study's grid on Optuna, and the paper's tables."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from morec_core.config import ConfigError
from morec_core.processes import interrupt_once
from morec_tui.commands.slurm import (
    LAUNCHER_HELP,
    SLURM_CONFIG_HELP,
    SLURM_HELP,
    Launcher,
    slurm_settings,
    submit_study,
)
from morec_tui.console import fail, progress_line_seconds, store_for_reading

if TYPE_CHECKING:
    from morec_core.study.slurm_config import SlurmSettings
    from morec_core.study.studies import GridPoint, Study
    from morec_core.study_launch import Prepared, StudyRequest

STORE_HELP = ("Run store: a database URL (postgresql://...) or a SQLite file path "
              "(default $MOREC_STORE or runs/morec.db). Optuna's storage sits beside it.")


def tune_command(
    study: Annotated[str, typer.Option(help="Study name from studies/ (e.g. demo, mind_bert), or "
                                            "the path of a study module.")],
    storage: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes on this machine "
                                                     "(ignored with --gpus).")] = 1,
    gpus: Annotated[str | None, typer.Option(help="Comma-separated GPU indices: one worker per "
                                                  "GPU, each seeing only its own.")] = None,
    compile_networks: Annotated[bool, typer.Option(
        "--compile/--no-compile",
        help="train.compile for every end-to-end text or vision arm: torch.compile its "
             "pretrained network (for GPUs; a minute or more of compilation per run, then "
             "1.2-1.3x faster steps on an H100). The results pool with uncompiled runs.")] = False,
    seeds: Annotated[int | None, typer.Option(
        min=1, help="Seeds for each arm's selected configuration (default: the study's own): "
                    "the grid is searched on the first seed, then the best configuration of "
                    "each arm by validation runs again on the others.")] = None,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed/--no-retry-failed",
        help="Queue again, before the workers start, the grid points whose trials failed (an "
             "error, such as missing data or memory): on by default, since a failure's cause "
             "is usually fixed before tune is run again, and a failure that persists costs one "
             "try per tune. Completed, pruned and collapsed trials never run again.")] = True,
    name: Annotated[str | None, typer.Option(
        help="Run the study's arms and grids as a study of this name, with the --set settings "
             "on top (e.g. the demo's IDRec vs MiniLM-L6 arms on your own data).")] = None,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="section.key=value on top of the study's settings, for every arm "
                      "(needs --name: other settings make other runs).")] = None,
    preset: Annotated[str | None, typer.Option(
        help="Run the study under a preset (paper: the paper code's SASRec block, BCE, HR@10 "
             "selection, patience 7, weight decay searched), as the study <name>_<preset> "
             "unless --name is given; `morec run --preset NAME --print-spec` shows what it "
             "sets.")] = None,
    launcher: Annotated[Launcher, typer.Option(help=LAUNCHER_HELP)] = "local",
    slurm: Annotated[list[str] | None, typer.Option(help=SLURM_HELP)] = None,
    slurm_config: Annotated[Path | None, typer.Option(help=SLURM_CONFIG_HELP)] = None,
    as_worker: Annotated[bool, typer.Option(hidden=True)] = False,
) -> None:
    """Run a study's grid on Optuna: each grid point once, pruned on the validation metric,
    collapsed trials flagged. Re-running an interrupted study finishes what is left. Stops
    before queueing anything when the study's data folders or models are missing, when a data
    view cannot be prepared (a wrong column, file or setting), or when an arm that reads item
    content finds too little of it (data.min_text_coverage)."""
    from morec_core.study_launch import StudyError, StudyRequest, prepare

    try:
        request = StudyRequest(study=study, preset=preset, name=name,
                               overrides=tuple(overrides or ()), seeds=seeds,
                               compile_networks=compile_networks)
        store_url, settings = _placement(storage, launcher, workers, gpus, slurm, slurm_config)
        every_s = progress_line_seconds()
        if as_worker:  # the workers of an older morec's `tune`: study_launch's now
            _work_here(request, store_url, every_s)
            return
        prepared = prepare(request, store_url, retry_failed=retry_failed)
    except (ConfigError, StudyError) as error:
        fail(str(error))
    for line in prepared.audit:
        typer.echo(line, err=True)
    typer.echo(prepared.line(), err=True)
    if settings is not None:
        submit_study(request, store_url, settings)
        return
    _run_workers(request, prepared, gpus, workers, every_s)


def _placement(storage: str | None, launcher: str, workers: int, gpus: str | None,
               slurm: list[str] | None, slurm_config: Path | None
               ) -> tuple[str, SlurmSettings | None]:
    """The store's URL and, with --launcher slurm, the Slurm settings; raises ConfigError for
    options that do not go together (before anything is queued)."""
    from morec_core import paths
    from morec_core.store import normalize_url

    store_url = normalize_url(storage or paths.default_store_url())
    if launcher != "slurm":
        if slurm or slurm_config:
            raise ConfigError("--slurm and --slurm-config need --launcher slurm")
        return store_url, None
    from morec_core.study.slurm import refuse_store

    refuse_store(store_url)  # before anything is queued in a store no job can share
    if gpus or workers != 1:
        raise ConfigError("--workers and --gpus place workers on this machine; with "
                          "--launcher slurm, ask for jobs with --slurm jobs=N and "
                          "their GPUs with --slurm gpus_per_trial=N")
    return store_url, slurm_settings(slurm_config, slurm or [])


def _work_here(request: StudyRequest, store_url: str, every_s: float,
               definition: Study | None = None) -> None:
    from morec_core import paths
    from morec_core.study_launch import progress_sinks, trial_line, work

    def report(point: GridPoint, status: str, reason: str) -> None:
        typer.echo("  " + trial_line(point, status, reason), err=True)

    work(request, store_url, paths.runs_dir(), on_trial=report,
         trial_sinks=progress_sinks(every_s), definition=definition)


def _run_workers(request: StudyRequest, prepared: Prepared, gpus: str | None, workers: int,
                 every_s: float) -> None:
    """This process as the one worker, or one worker process per GPU (--gpus) or --workers."""
    from morec_core import paths
    from morec_core.study_launch import run_local_workers

    name = prepared.study.name
    gpu_list: list[str | None] = [gpu.strip() for gpu in gpus.split(",")] if gpus else []
    # A `kill` (SIGTERM) stops the study as Ctrl-C does: the workers queue their trials again
    # and the study says so, instead of this process dying silently beside them.
    signal.signal(signal.SIGTERM, interrupt_once)
    try:
        if not gpu_list and workers == 1:
            _work_here(request, prepared.store_url, every_s, prepared.study)
        else:
            logs = paths.runs_dir() / "logs"
            failed = run_local_workers(request, prepared.store_url, gpu_list or [None] * workers,
                                       paths.runs_dir(),
                                       lambda line: typer.echo(line, err=True))
            if failed:
                fail(f"{'; '.join(failed)}; see the logs in {logs}", code=1)
    except KeyboardInterrupt:
        typer.echo(f"study {name}: interrupted; run the same command again to finish the grid",
                   err=True)
        raise typer.Exit(code=130) from None
    typer.echo(f"study {name}: done; see `morec compare --study {name}`", err=True)


def compare_command(
    study: Annotated[list[str] | None, typer.Option(help="Study name(s) to compare.")] = None,
    group: Annotated[str | None, typer.Option(help="A group of studies (one paper table).")] = None,
    output_format: Annotated[str, typer.Option(
        "--format", help="table | markdown | csv | latex | json")] = "table",
    cold_new: Annotated[bool, typer.Option(
        help="Add HR/NDCG on the test users whose target is a cold item (< 10 training "
             "interactions) or a new item (none), as in the paper's Table 9.")] = False,
    by: Annotated[list[str] | None, typer.Option(
        help="A spec key (section.key, e.g. train.loss) whose values split the rows and the "
             "verdicts; repeat for several.")] = None,
    correction: Annotated[str, typer.Option(
        help="Multiple-comparison correction across the table's comparisons: holm | bh "
             "(Benjamini-Hochberg) | none.")] = "holm",
    test: Annotated[str, typer.Option(
        help="The p-value the verdict reads: randomization (paired, sign-flip) | t (paired "
             "t-test). Both are printed.")] = "randomization",
    alpha: Annotated[float, typer.Option(help="Significance level of the verdicts.")] = 0.05,
    wilcoxon: Annotated[bool, typer.Option(
        help="Also print Wilcoxon signed-rank p-values (never used for the verdict).")] = False,
    recompute: Annotated[bool, typer.Option(
        help="Evaluate again, from their best checkpoints, the selected runs recorded without "
             "per-user results (by an older morec), so that they get verdicts.")] = False,
    card: Annotated[Path | None, typer.Option(
        help="Write a best-configuration card per arm into this folder: <study>_<arm>.md and "
             ".json with the chosen settings, the grid, the budget, the data fingerprint and "
             "the audit's warnings (for a paper's appendix).")] = None,
    published: Annotated[str | None, typer.Option(
        help="A CSV or TOML file of published numbers (dataset, arm, metric, value, source, "
             "counts or fingerprint, protocol), or `paper` for the paper's own: label each arm "
             "replicated (within ±5% relative), below, above or not comparable.")] = None,
    storage: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
) -> None:
    """Print the paper's tables with verdicts: per study and arm, the best-by-validation
    configuration's test HR@10 / NDCG@10 (in %, mean and 95% interval over seeds); for each
    MoRec arm, the paired difference with the best IDRec arm of the same dataset, backbone and
    loss (95% bootstrap CI, t-test and randomization p-values) and a verdict (MoRec better, on
    par, IDRec better) after a correction across the table; how many trials collapsed,
    failed or were pruned; a tuning audit per arm (grid, trials, device-hours, a chosen value on
    the grid's edge, unequal budgets); and the data fingerprint the arms trained on (arms whose
    fingerprints differ are not paired)."""
    from morec_core.config import ConfigError
    from morec_core.results.audit import audit_rows
    from morec_core.results.compare import FORMATS, Settings, compare_rows
    from morec_core.results.compare_format import render
    from morec_core.results.published import PublishedError, label_rows, read_published, resolve
    from morec_core.safe_text import terminal_text
    from morec_core.store.damage import damage_lines
    from morec_core.study.studies import group_studies

    if output_format not in FORMATS:
        fail(f"--format: unknown format {output_format!r}; known: {', '.join(FORMATS)}")
    try:
        settings = Settings(alpha=alpha, correction=correction, test=test, wilcoxon=wilcoxon,
                            by=tuple(_spec_key(key) for key in by or ()))
    except ValueError as error:
        fail(str(error))
    try:
        names = list(study or [])
        if group:
            names += [definition.name for definition in group_studies(group)]
    except ConfigError as error:
        fail(str(error))
    try:
        published_rows = read_published(resolve(published)) if published else []
    except PublishedError as error:
        fail(f"--published: {error}")
    store = store_for_reading(storage)
    if store.read_only:
        if recompute:
            fail(f"--recompute: store {store.url} is read-only for this user")
    else:
        store.reap_dead_runs()
    if not names:
        names = [record.name for record in store.studies()]
    splits = ("test", "test_cold", "test_new") if cold_new else ("test",)
    rows = compare_rows(store, names, splits, settings)
    if not rows:
        for line in damage_lines(store.damaged):
            typer.echo(line, err=True)
        fail(f"no runs of {', '.join(terminal_text(name) for name in names) or 'any study'} in "
             f"{store.url}", code=1)
    if recompute:
        _recompute(store, rows)
        rows = compare_rows(store, names, splits, settings)
    if wilcoxon:
        typer.echo("warning: Wilcoxon's signed-rank test over-rejects at tens of thousands of "
                   "users (most differences are 0 or tied); the verdicts read the "
                   f"{settings.test} test", err=True)
    runs = {run.id: run for name in names for run in store.runs(study=name)}
    audits = audit_rows(rows, runs, _definitions())
    labels = label_rows(rows, published_rows)
    if card is not None:
        from morec_core.results.card import write_cards

        try:
            written = write_cards(card, rows, audits, runs)
        except OSError as error:
            fail(f"--card {card}: {error.strerror or error}")
        typer.echo(f"cards: {len(written) // 2} arms written to {card}", err=True)
    typer.echo(render(rows, output_format, settings, audits=audits, published=labels))
    for line in damage_lines(store.damaged):
        typer.echo(line, err=True)


def _definitions() -> dict:
    """The studies defined here (./studies, $MOREC_STUDIES_DIR, the packaged ones), by name, for
    the audit's grids; a study module that fails to load leaves the grids to be read off the
    runs, and says so."""
    from morec_core.study.studies import load_studies

    try:
        return load_studies()
    except Exception as error:  # noqa: BLE001 - user code: said, and the runs still compare
        typer.echo(f"note: study definitions not loaded ({type(error).__name__}: {error}); the "
                   "audit reads the grids off the runs", err=True)
        return {}


def _spec_key(key: str) -> str:
    """--by train.loss: a `section.key` of RunSpec."""
    from morec_core.config import RunSpec

    section, _, name = key.partition(".")
    sections = RunSpec().to_dict()
    if section not in sections or name not in sections[section]:
        fail(f"--by: unknown spec key {key!r}; e.g. train.loss, backbone.name, data.max_seq_len")
    return key


def _recompute(store, rows) -> None:
    from morec_core import paths
    from morec_core.launch import reevaluate

    missing = sorted({run_id for row in rows for run_id in row.missing_user_results})
    if not missing:
        typer.echo("--recompute: every selected run has its per-user results", err=True)
    for index, run_id in enumerate(missing, start=1):
        outcome = reevaluate(store, store.run(run_id), paths.runs_dir())
        said = (f"recomputed {', '.join(outcome.splits)}" if not outcome.problem
                else f"not recomputed: {outcome.problem}")
        typer.echo(f"run {run_id[:8]} ({index}/{len(missing)}): {said}", err=True)
