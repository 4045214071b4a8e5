"""The `morec` command line. Heavy imports (torch, transformers, textual) live inside command
bodies so that `morec --help` stays fast and loads neither torch nor transformers."""

from __future__ import annotations

from typing import Annotated

import typer

from morec_core import __version__
from morec_tui.commands.data import data_app
from morec_tui.commands.run import run_command

app = typer.Typer(
    name="morec",
    help="Compare ID-based (IDRec) and modality-based (MoRec) recommenders, from one terminal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
app.command("run")(run_command)

STORE_HELP = "Run store: a database URL or a SQLite file path (default $MOREC_STORE or runs/morec.db)."


def _not_yet(what: str, issue: str) -> None:
    typer.echo(f"morec {what}: not available yet ({issue}).", err=True)
    raise typer.Exit(code=2)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"morec {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """morec: an experiment manager for IDRec vs MoRec (Yuan et al., SIGIR 2023)."""


@app.command()
def tui(
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
) -> None:
    """Open the dashboard: studies, runs, live curves, comparison tables and a job queue."""
    _not_yet("tui", "the dashboard is planned in issue 6")


@app.command()
def tune(
    study: Annotated[str, typer.Option(help="Study name, from studies/ (e.g. demo, mind_bert).")],
    storage: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes on this machine.")] = 1,
    gpus: Annotated[str | None, typer.Option(help="Comma-separated GPU indices, one worker each.")] = None,
) -> None:
    """Run a study's learning-rate grid with Optuna, flagging collapsed trials."""
    _not_yet("tune", "studies are planned in issue 5")


@app.command()
def compare(
    study: Annotated[list[str] | None, typer.Option(help="Study name(s) to compare.")] = None,
    group: Annotated[str | None, typer.Option(help="A group of studies (one paper table).")] = None,
    output_format: Annotated[str, typer.Option("--format",
                                               help="table | markdown | csv | latex | json")] = "table",
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
) -> None:
    """Print the paper's tables: best-by-validation test HR@10 / NDCG@10 per encoder."""
    _not_yet("compare", "comparison tables are planned in issue 5")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
