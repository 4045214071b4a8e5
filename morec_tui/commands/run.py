"""`morec run`: train and evaluate one configuration, recording every event in the store."""

from __future__ import annotations

import typer


def run_command() -> None:
    """Train and evaluate one configuration (dataset x item encoder x backbone)."""
    typer.echo("morec run: not available yet (training is planned in issue 4).", err=True)
    raise typer.Exit(code=2)
