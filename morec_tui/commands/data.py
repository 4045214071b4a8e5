"""`morec data ...`: inspect, prepare and download datasets."""

from __future__ import annotations

import typer

data_app = typer.Typer(help="Inspect, prepare and download datasets.", no_args_is_help=True)


@data_app.command()
def info(source: str) -> None:
    """Print the paper's Table 1 columns for a dataset: users, items, interactions, density."""
    typer.echo("morec data info: not available yet (datasets are planned in issue 3).", err=True)
    raise typer.Exit(code=2)
