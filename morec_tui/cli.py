"""The `morec` command line. Heavy imports (torch, transformers, textual) live inside command
bodies so that `morec --help` stays fast and loads neither torch nor transformers."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from morec_core import __version__
from morec_tui.commands.data import data_app
from morec_tui.commands.plan import plan_command
from morec_tui.commands.report import report_command
from morec_tui.commands.run import run_command
from morec_tui.commands.slurm import cancel_command
from morec_tui.commands.store import store_app
from morec_tui.commands.studies import studies_command
from morec_tui.commands.study import STORE_HELP, compare_command, tune_command
from morec_tui.console import DEBUG_ENV, debugging, print_user_error, user_error_types

app = typer.Typer(
    name="morec",
    help="Compare ID-based (IDRec) and modality-based (MoRec) recommenders, from one terminal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help and errors: rich's help formatter costs ~150 ms of imports (rich.markdown,
    # markdown_it), a third of `morec --help`, and errors stay one line.
    rich_markup_mode=None,
)
app.add_typer(data_app, name="data")
app.add_typer(store_app, name="store")
app.command("run")(run_command)
app.command("tune")(tune_command)
app.command("plan")(plan_command)
app.command("compare")(compare_command)
app.command("report")(report_command)
app.command("studies")(studies_command)
app.command("cancel")(cancel_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"morec {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option(
        "--debug", help=f"Show the traceback of an error instead of one line (also "
                        f"{DEBUG_ENV}=1).")] = False,
) -> None:
    """morec: an experiment manager for IDRec vs MoRec (Yuan et al., SIGIR 2023)."""
    if debug:
        # Through the environment, so that the processes this one starts (torchrun ranks,
        # study workers) show their tracebacks too.
        os.environ[DEBUG_ENV] = "1"


@app.command()
def tui(
    store: Annotated[str | None, typer.Option("--storage", "--store", help=STORE_HELP)] = None,
) -> None:
    """Open the dashboard: studies, runs, live curves, comparison tables and a job queue.

    Each screen's footer lists its keys. Jobs launched from it keep running when it closes.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from morec_core import paths
    from morec_core.store import StoreError
    from morec_tui.app import make_app
    from morec_tui.console import fail

    url = store or paths.default_store_url()
    try:
        dashboard = make_app(url)
    except (StoreError, SQLAlchemyError) as error:
        fail(f"store {url}: {error}".splitlines()[0])
    dashboard.run()


def main() -> None:
    """The `morec` script. An error of the user's to fix (USER_ERRORS in console.py, OSError)
    that escapes a command ends in one `error: ...` line and exit code 2, or 1 when it ended a
    run; under --debug it keeps its traceback, as any other error (a bug) always does."""
    try:
        app()
    except Exception as error:
        if debugging() or not isinstance(error, user_error_types()):
            raise
        sys.exit(print_user_error(error))


if __name__ == "__main__":
    main()
