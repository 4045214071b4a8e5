"""The compare screen's table, laid out for the terminal's width: one line per arm, with one
metric's verdict, Δ and Improv. (each with its 95% CI) in view at 80 columns; from
WIDE_COLUMNS on, the arm's mean, seeds, users and the p-values too. The cells are the numbers of
`morec compare` (morec_core.results.compare), only written shorter: `+1.23 [+0.50,+2.00]`."""

from __future__ import annotations

import math
from collections.abc import Sequence

from morec_core.results.compare import CompareRow, Comparison
from morec_core.results.compare_format import metric_cell, metrics_of, p_cell

WIDE_COLUMNS = 120
"""Terminal width from which the means, p-values and users join the table."""
COMPACT = ("arm", "verdict", "Δ pp [95% CI]", "Improv. [95% CI]")
ARM_WIDTH = 22
"""The arm column's width below WIDE_COLUMNS: 22 + 12 + 19 + 16 characters and a space each side
of each column fit 80 columns with a scrollbar."""
WIDE = ("arm", "paradigm", "seeds", "mean % [95% CI]", "verdict", "Δ pp [95% CI]",
        "Improv. [95% CI]", "users", "p t", "p rand.", "p adj.")


def default_metric(rows: Sequence[CompareRow]) -> str | None:
    """The metric shown first: NDCG@k (what the runs select on) where there is one."""
    metrics = metrics_of(rows)
    return next((name for name in metrics if name.startswith("ndcg@")),
                metrics[0] if metrics else None)


def compare_cells(rows: Sequence[CompareRow], metric: str, width: int) -> list[list[str]]:
    """Header and one line per arm (in `rows`' order: Enter opens the line's best run)."""
    several = len({row.study for row in rows}) > 1
    wide = width >= WIDE_COLUMNS
    table = [list(WIDE if wide else COMPACT)]
    for row in rows:
        comparison = row.comparisons.get(metric)
        arm = row.label if several else row.arm
        if not wide:
            arm = _shortened(row.study, row.arm, several)
        verdict = comparison.verdict if comparison else (
            "control" if row.paradigm == "IDRec" else "no verdict")
        numbers = ([difference(comparison), improvement(comparison)] if comparison
                   else ["", ""])
        if not wide:
            table.append([arm, verdict, *numbers])
            continue
        table.append([arm, row.paradigm, str(row.seeds), metric_cell(row, metric), verdict,
                      *numbers, *(["", "", "", ""] if comparison is None else [
                          str(comparison.users), p_cell(comparison.p_t),
                          p_cell(comparison.p_randomization), p_cell(comparison.p_adjusted)])])
    return table


def difference(comparison: Comparison) -> str:
    """Δ in percentage points with its CI: `+1.23 [+0.50,+2.00]`."""
    low, high = comparison.difference_ci
    return f"{100 * comparison.difference:+.2f} [{100 * low:+.2f},{100 * high:+.2f}]"


def improvement(comparison: Comparison) -> str:
    """Improv. (Δ / IDRec's mean) with its CI: `+12.3% [+5,+20]` (%)."""
    if comparison.relative is None or comparison.relative_ci is None:
        return "n/a (IDRec at 0)"
    low, high = comparison.relative_ci
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{comparison.relative:+.1%} [unbounded]"
    return f"{comparison.relative:+.1%} [{100 * low:+.0f},{100 * high:+.0f}]"


def _shortened(study: str, arm: str, several: bool) -> str:
    """study/arm within ARM_WIDTH: the study's name cut first (the arm tells the lines of one
    study apart), then the arm's end."""
    label = f"{study}/{arm}" if several else arm
    if len(label) <= ARM_WIDTH:
        return label
    if several and len(arm) + 3 <= ARM_WIDTH:
        return f"{study[:ARM_WIDTH - len(arm) - 2]}…/{arm}"
    return label[:ARM_WIDTH - 1] + "…"
