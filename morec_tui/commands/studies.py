"""`morec studies`: the studies `morec tune` can run, where they come from, their grids and sizes."""

from __future__ import annotations

from typing import Annotated

import typer

from morec_tui.console import fail


def studies_command(
    grids: Annotated[bool, typer.Option(help="Also list each arm's grid and fixed settings.")] = False,
    group: Annotated[str | None, typer.Option(help="Only the studies of this group.")] = None,
) -> None:
    """List the studies: the user's ($MOREC_STUDIES_DIR or ./studies) and the packaged ones
    (demo, the paper's tables, the shared-data questions), with their arms and how many runs a
    `morec tune` of each makes (grid points on the first seed, plus each arm's winner on the
    further seeds)."""
    from morec_core.config import ConfigError
    from morec_core.study.studies import load_studies, searched

    try:
        studies = load_studies()
    except ConfigError as error:
        fail(str(error))
    chosen = [study for study in studies.values() if group is None or study.group == group]
    if not chosen:
        fail(f"no study{f' in group {group!r}' if group else ''}; looked in {searched()}")
    rows = [["study", "group", "arms", "grid points", "seeds", "runs", "description"]]
    for study in sorted(chosen, key=lambda study: (study.group, study.name)):
        points = len(study.points())
        seeds = len(study.seed_values)
        runs = points + (seeds - 1) * len(study.arms)
        rows.append([study.name, study.group or "-", str(len(study.arms)), str(points),
                     str(seeds), str(runs), study.description])
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]) - 1)]
    for row in rows:
        typer.echo("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths,
                                                                          strict=False)),
                              row[-1]]).rstrip())
        if grids and row is not rows[0]:
            for arm in studies[row[0]].arms:
                grid = "; ".join(f"{name} in {', '.join(map(str, values))}"
                                 for name, values in sorted(studies[row[0]].grid_of(arm).items())) or "no grid"
                typer.echo(f"    {arm.name}: {grid}")
    typer.echo(f"\nlooked in {searched()}; `morec tune --study NAME` runs one", err=True)
