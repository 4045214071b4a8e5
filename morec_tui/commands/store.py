"""`morec store merge`: add the runs of another store (a GPU machine's, carried back)."""

from __future__ import annotations

from typing import Annotated

import typer

from morec_tui.commands.study import STORE_HELP
from morec_tui.console import fail

store_app = typer.Typer(help="Run store maintenance: merge a store into another.",
                        no_args_is_help=True)


@store_app.command("merge")
def merge_command(
    source: Annotated[str, typer.Argument(help="The store to copy from: a SQLite file or a "
                                               "database URL (read only).")],
    storage: Annotated[str | None, typer.Option(
        "--storage", "--into", help=f"The store to add to. {STORE_HELP}")] = None,
) -> None:
    """Copy every ended run of SOURCE that the store lacks (by run id), with its curves,
    per-user results and study, in one transaction: `morec compare` and `morec report` then see
    both machines' runs. Runs already in the store, and runs still queued or running in SOURCE,
    are left alone."""
    from pathlib import Path

    from morec_core import paths
    from morec_core.store import Store, StoreError, normalize_url, open_for_reading
    from morec_core.store.damage import damage_lines
    from morec_core.store.merge import merge_stores

    destination_url = normalize_url(storage or paths.default_store_url())
    if "://" not in source and not Path(source).is_file():
        fail(f"store {source}: no such file")
    try:
        origin = open_for_reading(source)
        if normalize_url(origin.url) == destination_url:
            fail("the source and the destination are the same store")
        destination = Store(destination_url)
        result = merge_stores(origin, destination)
    except StoreError as error:
        fail(str(error))
    for line in damage_lines(origin.damaged):
        typer.echo(line, err=True)
    damaged = f", {result.damaged} damaged left out" if result.damaged else ""
    typer.echo(f"merged {result.copied} runs into {destination_url} ({result.already_there} "
               f"already there, {result.unfinished} unfinished left out{damaged}, "
               f"{result.studies} new studies)", err=True)
