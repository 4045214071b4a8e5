"""`morec store merge`: add the runs of another store (a GPU machine's, carried back)."""

from __future__ import annotations

from typing import Annotated

import typer

from morec_tui.commands.study import STORE_HELP
from morec_tui.console import fail

store_app = typer.Typer(help="Run store maintenance: merge a store into another, check it for "
                             "damaged rows.",
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


@store_app.command("check")
def check_command(
    repair: Annotated[bool, typer.Option(
        help="Move the damaged rows aside: written to a .jsonl file beside the store (or in "
             "the runs folder for a server), then removed from the store. Nothing is deleted "
             "unsaved.")] = False,
    storage: Annotated[str | None, typer.Option("--storage", help=STORE_HELP)] = None,
) -> None:
    """List every row readers set aside (a run whose spec, status, numbers or metric values
    cannot be read; unreadable per-user results; a study without a readable name), one line
    each. Exit 0 when there is none, 1 when there are some (and --repair was not asked)."""
    from pathlib import Path

    from morec_core import paths
    from morec_core.store import Store, StoreError
    from morec_core.store.check import find_damage, move_aside

    url = storage or paths.default_store_url()
    missing = paths.missing_store_file(url)
    if missing is not None:
        fail(missing)
    try:
        store = Store(url)
        damage = find_damage(store)
    except StoreError as error:
        fail(str(error))
    for item in damage:
        typer.echo(f"{item.what}: {item.problem}")
    if not damage:
        typer.echo(f"store {store.where}: every row reads", err=True)
        return
    if not repair:
        typer.echo(f"{len(damage)} damaged; `morec store check --repair` moves them aside",
                   err=True)
        raise typer.Exit(code=1)
    folder = Path(store.where).parent if store.is_sqlite else paths.runs_dir()
    try:
        target, rows = move_aside(store, damage, folder)
    except (StoreError, OSError) as error:
        fail(f"nothing moved: {error}")
    typer.echo(f"moved {rows} rows aside to {target}; the store reads whole", err=True)
