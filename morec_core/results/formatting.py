"""Numbers, intervals and p-values as every output prints them (`morec compare`, `morec report`,
the arm cards and the dashboard), and the one Markdown table writer.

Metrics are shown in %, differences in percentage points, each with its 95% interval; a
p-value shows three decimals, or two significant digits below 0.001 (where three decimals
would print 0.000).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from morec_core.safe_text import terminal_text

ONE_SEED = "n/a (1 seed)"
"""In place of an interval over seeds that one seed cannot have."""


def percent(value: float | None, digits: int = 2) -> str:
    """0.1234 -> '12.34'; '' for None."""
    return "" if value is None else f"{100 * value:.{digits}f}"


def mean_interval(mean: float, interval: tuple[float, float] | None, *,
                  one_seed: bool = True) -> str:
    """'12.34 [11.00, 13.68]' in %; without an interval '12.34 [n/a (1 seed)]' where one seed is
    the reason (one_seed), else the bare mean."""
    if interval is not None:
        return f"{percent(mean)} [{percent(interval[0])}, {percent(interval[1])}]"
    return f"{percent(mean)} [{ONE_SEED}]" if one_seed else percent(mean)


def difference_interval(difference: float, interval: tuple[float, float], *,
                        unit: str = "") -> str:
    """'+1.23 [+0.10, +2.36]' in percentage points (unit ' pp' after the difference)."""
    low, high = interval
    return f"{100 * difference:+.2f}{unit} [{100 * low:+.2f}, {100 * high:+.2f}]"


def relative_interval(relative: float | None, interval: tuple[float, float] | None) -> str:
    """'+12.3% [+1.0%, +25.1%]'; n/a where the control's mean is 0, and [unbounded] where some
    resamples of users had it at 0 (the relative difference has no bound there)."""
    if relative is None or interval is None:
        return "n/a (IDRec at 0)"
    if not math.isfinite(relative):
        return "n/a"
    low, high = interval
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{100 * relative:+.1f}% [unbounded]"
    return f"{100 * relative:+.1f}% [{100 * low:+.1f}%, {100 * high:+.1f}%]"


def p_value(p: float | None) -> str:
    """0.0312 -> '0.031', 0.00002 -> '2e-05'; '' for None."""
    if p is None:
        return ""
    return f"{p:.2g}" if p < 0.001 else f"{p:.3f}"


# --- costs: counts, durations, memory ---------------------------------------------------


def count_cell(value: float | None) -> str:
    if value is None:
        return ""
    for limit, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if value >= limit:
            return f"{value / limit:.1f}{unit}"
    return f"{value:.0f}"


def seconds_cell(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def hours_cell(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3g} h" if value >= 0.01 else f"{value * 3600:.0f} s"


def memory_cell(value: float | None) -> str:
    """Binary units, always with one: 1006 MiB is not 1006.1 of nothing."""
    if value is None:
        return ""
    for limit, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= limit:
            return f"{value / limit:.1f} {unit}"
    return f"{value:.0f} B"


def markdown_cell(text: str) -> str:
    """A cell's text that cannot end its cell or its row, nor carry a terminal's escape
    sequence or raw HTML: controls removed (safe_text.terminal_text: line breaks as spaces),
    `|` escaped, `<` as an entity."""
    return terminal_text(text).replace("|", "\\|").replace("<", "&lt;")


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a GitHub Markdown table, every cell through markdown_cell."""
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(markdown_cell(cell) for cell in cells) + " |"

    return [line(header), "|" + "---|" * len(header), *[line(cells) for cells in body]]
