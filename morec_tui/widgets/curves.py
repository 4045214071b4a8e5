"""Per-epoch curve plots (textual-plotext) that redraw only when their points change: one metric
per plot (HR and NDCG on one axis hid NDCG's moves), one line per run, each run's best epoch
marked, no legend inside the plot (it covered the data: the screens print it beside)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from morec_core.store import CurvePoint
from morec_tui.widgets.palette import Rgb, color_at

MAX_TICKS = 6
SMOOTHING = 0.6
"""Weight of the previous smoothed value (an exponential moving average) when smoothing."""
Series = Mapping[str, Sequence[CurvePoint]]


def smoothed(values: Sequence[float], weight: float = SMOOTHING) -> list[float]:
    """Exponential moving average, as TensorBoard's smoothing slider: s_t = w s_(t-1) + (1-w) x_t."""
    out: list[float] = []
    for value in values:
        out.append(value if not out else weight * out[-1] + (1 - weight) * value)
    return out


class CurvePlot(PlotextPlot):
    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.caption = title
        self.points = 0
        """Points drawn, over every series (tests watch it grow)."""
        self.marked: dict[str, tuple[int, float]] = {}
        """Per series, the (1-based epoch, value) marked as its best."""
        self._shown: tuple[Any, ...] | None = None
        self._painted: tuple[tuple[Any, ...], RenderResult] | None = None

    def on_mount(self) -> None:
        self.plt.title(self.caption)
        self.plt.xlabel("epoch")

    def render(self) -> RenderResult:
        # Building a plot costs some 20 ms: do it again only for new points, a new size or a
        # new theme, not each time the screen around it is laid out.
        key = (self._shown, self.size, self.app.theme, self.theme)
        if self._painted is None or self._painted[0] != key:
            self._painted = (key, super().render())
        return self._painted[1]

    def show(self, series: Series, *, best: Mapping[str, int | None] | None = None,
             colors: Mapping[str, Rgb] | None = None, smooth: bool = False) -> None:
        """Draw `series` (label -> points, epochs 0-based; shown 1-based as the CLI prints them).

        best: label -> the run's best validation epoch (0-based), marked with a cross on its
        line; colors: label -> an RGB colour (default: the palette in order); smooth: an EMA of
        each line (the marks stay on the recorded values)."""
        best = best or {}
        shown = (tuple((label, tuple(points)) for label, points in series.items()),
                 tuple(sorted(best.items())), tuple(sorted((colors or {}).items())), smooth)
        if shown == self._shown:
            return
        self._shown = shown
        plt = self.plt
        plt.clear_data()
        plt.title(self.caption if any(series.values()) else f"{self.caption}: no epoch yet")
        self.marked = {}
        for index, (label, points) in enumerate(series.items()):
            if not points:
                continue
            color = (colors or {}).get(label, color_at(index))
            values = [point.value for point in points]
            plt.plot([point.epoch + 1 for point in points], smoothed(values) if smooth else values,
                     marker="braille", color=color)
            epoch = best.get(label)
            at = next((point for point in points if point.epoch == epoch), None)
            if at is not None:
                self.marked[label] = (at.epoch + 1, at.value)
                plt.scatter([at.epoch + 1], [at.value], marker="x", color=color)
        # list[float] as textual-plotext's stub asks; the values stay ints (tick labels "2").
        epochs: list[float] = sorted({point.epoch + 1 for points in series.values()
                                      for point in points})
        if epochs:
            step = max(1, len(epochs) // MAX_TICKS + (len(epochs) % MAX_TICKS > 0))
            plt.xticks(epochs[::step])  # whole epochs, not 2.2 and 3.5
        self.points = sum(len(points) for points in series.values())
        self.refresh()
