"""Terminal output of commands: one-line errors and a sink that prints a run's progress."""

from __future__ import annotations

import os
import sys
import traceback
from typing import TYPE_CHECKING, NoReturn

import typer

from morec_core.data.errors import MAX_MESSAGE_CHARACTERS, shorten

# The run's console lives in the engine (the run process prints it too); named here for the
# shell's commands.
from morec_core.run.run_console import RUN_ERRORS
from morec_core.run.run_console import ConsoleSink as ConsoleSink
from morec_core.run.run_console import ProgressLines as ProgressLines
from morec_core.run.run_console import progress_line_seconds as engine_progress_line_seconds

if TYPE_CHECKING:
    from morec_core.store import Store

DEBUG_ENV = "MOREC_DEBUG"
"""Set (to anything but 0) by `morec --debug`: errors keep their traceback."""
# (module, class) of the errors that are the user's to fix: a bad setting or file, an
# unreachable store, a missing packaged model. Each class is taken from its module only if
# that module was imported (an error of a class never imported cannot have been raised), so
# reporting an error imports nothing, neither torch (encoders) nor sqlalchemy (store).
USER_ERRORS = (("morec_core.config", "ConfigError"), ("morec_core.data.errors", "DataError"),
               ("morec_core.store.engine", "StoreError"), ("sqlalchemy.exc", "SQLAlchemyError"),
               ("morec_core.encoders.packaged", "PackagedModelError"))


def fail(message: str, code: int = 2) -> NoReturn:
    """A one-line error on stderr and a non-zero exit; under --debug, after the traceback of the
    exception being handled, if any."""
    if debugging() and sys.exc_info()[1] is not None:
        traceback.print_exc()
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


def store_for_reading(storage: str | None) -> Store:
    """The store a reading command names (--storage, else the default one), or one error line:
    a SQLite file that is not there (opening would create an empty one) or a store that cannot
    be opened."""
    from morec_core import paths
    from morec_core.store import StoreError, open_for_reading

    url = storage or paths.default_store_url()
    missing = paths.missing_store_file(url)
    if missing is not None:
        fail(missing)
    try:
        return open_for_reading(url)
    except StoreError as error:
        fail(str(error))


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def user_error_types() -> tuple[type[BaseException], ...]:
    """The classes of USER_ERRORS that are loaded, and OSError (a permission, a full disk)."""
    loaded = [getattr(sys.modules[module], name) for module, name in USER_ERRORS
              if module in sys.modules]
    return (OSError, *loaded)


def print_user_error(error: BaseException) -> int:
    """Print a user error that escaped a command as one `error: ...` line; return the exit
    code: 1 when it ended a run, else 2."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    message = shorten(lines[0] if lines else type(error).__name__, MAX_MESSAGE_CHARACTERS)
    run_id = next((run for failed, run in RUN_ERRORS if failed is error), None)
    if run_id is not None:
        message = f"run {run_id} failed: {message}"
    typer.echo(f"error: {message}", err=True)
    return 2 if run_id is None else 1


def progress_line_seconds() -> float:
    """$MOREC_PROGRESS_LINE_S, else the default; read by the commands before any run, so that
    a bad value stops them with one line."""
    try:
        return engine_progress_line_seconds()
    except ValueError as error:
        fail(str(error))
