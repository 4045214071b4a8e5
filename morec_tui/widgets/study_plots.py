"""A study's plots (textual-plotext): one grid key against the best validation metric, collapsed
trials marked, on a log axis for keys such as the learning rate; and parallel coordinates, each
trial a line across its settings and metric, the top k% by validation highlighted."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from morec_core.study.study_analytics import GridMean
from morec_core.study.study_view import Point, Trial, format_value, wants_log_axis
from morec_tui.widgets.palette import color_at


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
    """x: one grid key; y: the best validation metric. One colour per arm: at each grid value
    the mean over its trials (seeds; other keys pooled) with its 95% interval as an error bar;
    collapsed trials as red x. A key spanning more than a factor of 10 (learning rates) on a
    log axis, ticked at the grid's values, with half a step of room at each end (two values
    sat on the frame's edges)."""

    def show(self, means: Sequence[GridMean], collapsed: Sequence[Point], key: str,
             metric: str) -> None:
        if not self.changed((tuple(means), tuple(collapsed), key, metric)):
            return
        plt = self.plt
        values = sorted({mean.x for mean in means} | {point.x for point in collapsed})
        log = wants_log_axis(values)

        def place(x: float) -> float:
            return math.log10(x) if log else x

        plt.title(f"best validation {metric} vs {key}" + (" (log axis)" if log else "")
                  if values else f"no finished trial with a {key} yet")
        plt.xlabel(key)
        arms = list(dict.fromkeys(mean.arm for mean in means))
        for index, arm in enumerate(arms):
            chosen = [mean for mean in means if mean.arm == arm]
            xs = [place(mean.x) for mean in chosen]
            ys = [mean.mean for mean in chosen]
            color = color_at(index)
            if len(chosen) > 1:
                plt.plot(xs, ys, marker="braille", color=color)
            # plotext's error bar spans y ± yerr / 2: the whole interval.
            # No plotext legend: inside the frame it covered the data (the screen prints one).
            plt.error(xs, ys, yerr=[2 * (mean.half or 0.0) for mean in chosen], color=color)
        if collapsed:
            plt.scatter([place(point.x) for point in collapsed], [point.y for point in collapsed],
                        marker="x", color=(230, 25, 75))
        if values:
            positions = [place(value) for value in values]
            step = min((b - a for a, b in itertools.pairwise(positions)), default=1.0) or 1.0
            plt.xlim(positions[0] - step / 2, positions[-1] + step / 2)
            plt.xticks(positions[:: max(1, math.ceil(len(positions) / 8))],
                       [format_value(value) for value in values][
                           :: max(1, math.ceil(len(positions) / 8))])
            # The metric's range: an interval past 0 is cut at 0 rather than stretch the axis.
            lows = [mean.mean - (mean.half or 0.0) for mean in means]
            highs = [mean.mean + (mean.half or 0.0) for mean in means]
            ys_all = lows + highs + [point.y for point in collapsed]
            if ys_all:
                low, high = max(0.0, min(ys_all)), min(1.0, max(ys_all))
                room = (high - low) * 0.05 or 0.01
                plt.ylim(max(0.0, low - room), high + room)


class ParallelPlot(CachedPlot):
    """One line per trial across its arm, its numeric settings and the metric, each axis
    scaled to 0-1 (log-scaled where wants_log_axis, arms by name), with the values written on
    each axis (every value where an axis has up to AXIS_VALUES of them, else its min, middle
    and max); the top `top` % by best validation in colour."""

    def show(self, trials: Sequence[Trial], keys: Sequence[str], metric: str,
             top: int) -> None:
        rows = [(trial.run.best_value, [trial.run.arm, *[trial.params.get(key) for key in keys]])
                for trial in trials if trial.run.best_value is not None]
        if not self.changed((tuple((value, tuple(params)) for value, params in rows),
                             tuple(keys), metric, top)):
            return
        plt = self.plt
        axes = ["arm", *keys, metric]
        plt.title(f"parallel coordinates: top {top}% by validation {metric} in colour"
                  if rows else "parallel coordinates: no finished trial yet")
        if not rows:
            return
        columns: list[list[Any]] = [[params[index] for _, params in rows]
                                    for index in range(len(axes) - 1)]
        columns.append([value for value, _ in rows])
        scaled = [_unit(column) for column in columns]  # per axis, (trials,) in 0..1
        order = sorted(range(len(rows)), key=lambda row: rows[row][0] or 0.0, reverse=True)
        kept = set(order[:max(1, math.ceil(len(rows) * top / 100))])
        xs: list[float] = [float(index) for index in range(1, len(axes) + 1)]
        for row in sorted(range(len(rows)), key=lambda row: row in kept):  # highlighted on top
            plt.plot(xs, [axis[row] for axis in scaled], marker="braille",
                     color="orange" if row in kept else "gray")
        for x, column, positions in zip(xs, columns, scaled, strict=True):
            for label, y in _axis_labels(column, positions):
                plt.text(label, x, y, alignment="center")
        plt.xticks(xs, [axis.split(".", 1)[-1] for axis in axes])
        plt.xlim(0.5, len(axes) + 0.5)
        plt.ylim(-0.08, 1.08)
        plt.yticks([])


AXIS_VALUES = 4
"""An axis with this many distinct values or fewer has each one written on it."""


def _axis_labels(column: Sequence[Any], positions: Sequence[float]) -> list[tuple[str, float]]:
    """(text, height in 0..1) of the values to write on one axis."""
    at: dict[str, float] = {}
    for value, position in zip(column, positions, strict=True):
        at.setdefault(_label(value), position)
    if len(at) <= AXIS_VALUES:
        return sorted(at.items(), key=lambda item: item[1])
    ranked = sorted(at.items(), key=lambda item: item[1])
    middle = ranked[len(ranked) // 2]
    return [ranked[0], middle, ranked[-1]]


def _label(value: Any) -> str:
    if isinstance(value, float) and not isinstance(value, bool) and 0 < abs(value) < 1:
        return f"{value:.3g}" if abs(value) >= 1e-3 else f"{value:.0e}"
    return format_value(value)


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
