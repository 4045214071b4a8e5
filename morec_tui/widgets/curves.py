"""A per-epoch curve plot (textual-plotext) that redraws only when its points change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from textual.app import RenderResult
from textual_plotext import PlotextPlot

from morec_core.store import CurvePoint

MAX_TICKS = 6
Series = Mapping[str, Sequence[CurvePoint]]


class CurvePlot(PlotextPlot):
    def __init__(self, title: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.caption = title
        self.points = 0
        """Points drawn, over every series (tests watch it grow)."""
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

    def show(self, series: Series) -> None:
        """Draw `series` (label -> points, epochs 0-based; shown 1-based as the CLI prints them)."""
        shown = tuple((label, tuple(points)) for label, points in series.items())
        if shown == self._shown:
            return
        self._shown = shown
        plt = self.plt
        plt.clear_data()
        plt.title(self.caption if any(series.values()) else f"{self.caption}: no epoch yet")
        for label, points in series.items():
            if points:
                plt.plot([point.epoch + 1 for point in points], [point.value for point in points],
                         label=label, marker="braille")
        # list[float] as textual-plotext's stub asks; the values stay ints (tick labels "2").
        epochs: list[float] = sorted({point.epoch + 1 for points in series.values()
                                      for point in points})
        if epochs:
            step = max(1, len(epochs) // MAX_TICKS + (len(epochs) % MAX_TICKS > 0))
            plt.xticks(epochs[::step])  # whole epochs, not 2.2 and 3.5
        self.points = sum(len(points) for points in series.values())
        self.refresh()
