"""A study's plots (textual-plotext): one grid key against the best validation metric, collapsed
trials marked, on a log axis for keys such as the learning rate; and parallel coordinates, each
trial a line across its settings and metric, the top k% by validation highlighted."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from morec_core.study_view import Point, Trial, format_value, wants_log_axis


class CachedPlot(PlotextPlot):
    """Draws again only when its data, size or theme changed (a plot costs some 20 ms)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: Any = None
        self._painted: tuple[tuple[Any, ...], RenderResult] | None = None

    def render(self) -> RenderResult:
        key = (self._shown, self.size, self.app.theme, self.theme)
        if self._painted is None or self._painted[0] != key:
            self._painted = (key, super().render())
        return self._painted[1]

    def changed(self, shown: Any) -> bool:
        """True, and remembered, when `shown` is not what is drawn."""
        if shown == self._shown:
            return False
        self._shown = shown
        self.plt.clear_data()
        self.plt.clear_figure()
        self.refresh()
        return True


class MetricPlot(CachedPlot):
    """x: one setting of each trial; y: its best validation metric; collapsed trials as red x."""

    def show(self, points: Sequence[Point], key: str, metric: str) -> None:
        if not self.changed((tuple(points), key, metric)):
            return
        plt = self.plt
        log = wants_log_axis([point.x for point in points])
        plt.title(f"best validation {metric} vs {key}" + (" (log axis)" if log else "")
                  if points else f"no finished trial with a {key} yet")
        plt.xlabel(key)
        if log:
            plt.xscale("log")
        for collapsed, label, marker, color in ((False, "trials", "dot", "cyan"),
                                                (True, "collapsed", "x", "red")):
            chosen = [point for point in points if point.collapsed == collapsed]
            if chosen:
                plt.scatter([point.x for point in chosen], [point.y for point in chosen],
                            marker=marker, color=color, label=label)
        values = sorted({point.x for point in points})
        if values and len(values) <= 8:  # the grid's values, as the study module wrote them
            plt.xticks(values, [format_value(value) for value in values])


class ParallelPlot(CachedPlot):
    """One line per trial across its numeric settings and the metric, each axis scaled to
    0-1 (log-scaled where wants_log_axis); the top `top` % by best validation in colour."""

    def show(self, trials: Sequence[Trial], keys: Sequence[str], metric: str,
             top: int) -> None:
        rows = [(trial.run.best_value, [trial.params.get(key) for key in keys])
                for trial in trials if trial.run.best_value is not None]
        if not self.changed((tuple((value, tuple(params)) for value, params in rows),
                             tuple(keys), metric, top)):
            return
        plt = self.plt
        axes = [*keys, metric]
        plt.title(f"parallel coordinates: top {top}% by validation {metric} in colour"
                  if rows and keys else "parallel coordinates: no finished trial with settings")
        if not rows or not keys:
            return
        columns = [[params[index] for _, params in rows] for index in range(len(keys))]
        columns.append([value for value, _ in rows])
        scaled = [_unit(column) for column in columns]  # per axis, (trials,) in 0..1
        order = sorted(range(len(rows)), key=lambda row: rows[row][0] or 0.0, reverse=True)
        kept = set(order[:max(1, math.ceil(len(rows) * top / 100))])
        xs: list[float] = [float(index) for index in range(1, len(axes) + 1)]
        for row in sorted(range(len(rows)), key=lambda row: row in kept):  # highlighted on top
            plt.plot(xs, [axis[row] for axis in scaled], marker="braille",
                     color="orange" if row in kept else "gray")
        plt.xticks(xs, [axis.split(".", 1)[-1] for axis in axes])
        plt.yticks([0, 0.5, 1], ["min", "mid", "max"])


def _unit(values: Sequence[Any]) -> list[float]:
    """Values scaled to 0..1 (log first for a wide positive range; text values by rank)."""
    if not all(isinstance(value, int | float) and not isinstance(value, bool)
               for value in values):
        ranks = {value: index for index, value in enumerate(sorted({str(v) for v in values}))}
        numbers = [float(ranks[str(value)]) for value in values]
    else:
        numbers = [float(value) for value in values]
        if wants_log_axis(numbers):
            numbers = [math.log10(value) for value in numbers]
    low, high = min(numbers), max(numbers)
    return [0.5 if high == low else (value - low) / (high - low) for value in numbers]
