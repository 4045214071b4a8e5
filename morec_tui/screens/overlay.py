"""Several runs' curves overlaid (Space marks runs on the runs screen, `o` opens this): one
plot per metric (training loss, validation HR@k, validation NDCG@k), one line per run with its
best epoch marked, the legend under the plots (inside, it covered the data), optional
smoothing; and the settings that differ between the runs, side by side."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Static, TabbedContent, TabPane

from morec_core.store import Curves, RunRecord, StoreError
from morec_core.study.study_view import (
    SeedBand,
    flat_spec,
    format_value,
    seed_band,
    short_labels,
    spec_items,
    varying_keys,
)
from morec_tui.screens.base import PollingScreen
from morec_tui.screens.run_detail import METRIC_FAMILIES
from morec_tui.widgets.curves import CurvePlot
from morec_tui.widgets.palette import Rgb, color_at, markup

# The range a metric's values lie in: a seed band is clipped to it (an interval over three
# seeds can run below 0 for a hit rate near 0). The loss has none.
METRIC_RANGE: dict[str, tuple[float, float]] = {"hr": (0.0, 1.0), "ndcg": (0.0, 1.0)}


def _band_note(band: SeedBand | None) -> str:
    """Where some seeds stopped early: the band ends at the last epoch all of them reached."""
    if band is None or len(set(band.reached)) <= 1:
        return ""
    last = min(band.reached)
    if last < 0:
        return "; a seed has no epoch yet: no band"
    return (f"; over epochs 1-{last + 1}, which all {band.seeds} seeds reached (the last epochs "
            f"per seed: {', '.join(str(epoch + 1) for epoch in band.reached)})")


class OverlayLoaded(Message, bubble=False):
    """The runs found (a run id no longer in the store is left out) and their curves."""

    def __init__(self, runs: list[RunRecord], curves: dict[str, Curves]) -> None:
        super().__init__()
        self.runs = runs
        self.curves = curves


class OverlayScreen(PollingScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("1", "tab('overlay-curves')", "Curves"),
        Binding("2", "tab('overlay-spec')", "Settings"),
        Binding("m", "smooth", "Smooth"),
        Binding("b", "bands", "Seed bands"),
    ]

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids
        self.runs: list[RunRecord] = []
        self.curves: dict[str, Curves] = {}
        self.smooth = False
        self.bands = False
        """Runs of one configuration on several seeds as their mean and 95% interval."""
        self.legend_metric = "ndcg"
        """The plot whose seed bands the legend describes (the selection metric's family)."""

    def compose(self) -> ComposeResult:
        yield Static(f"{len(self.run_ids)} runs overlaid", id="bar", classes="bar")
        with TabbedContent(id="overlay-tabs"):
            with TabPane("Curves", id="overlay-curves"):
                with Horizontal(id="overlay-plots"):
                    yield CurvePlot("training loss", id="overlay-loss")
                    for family, label in METRIC_FAMILIES:
                        yield CurvePlot(f"validation {label}", id=f"overlay-{family}")
                with VerticalScroll(id="legend-scroll", can_focus=True):
                    yield Static("", id="legend")
            with TabPane("Settings", id="overlay-spec"), VerticalScroll():
                yield Static("", id="spec-diff", markup=False)
        yield from self.compose_problem()
        yield Footer(compact=True, show_command_palette=False)

    def fetch_args(self) -> list[str]:
        return self.run_ids

    def fetch(self, run_ids: Any) -> OverlayLoaded:
        store = self.dashboard.store
        runs, curves = [], {}
        for run_id in run_ids:
            try:
                runs.append(store.run(run_id))
            except StoreError:
                continue  # deleted, or a job's run not started yet
            curves[run_id] = store.curves(run_id)
        return OverlayLoaded(runs, curves)

    def on_overlay_loaded(self, message: OverlayLoaded) -> None:
        self.runs, self.curves = message.runs, message.curves
        self._show()
        self.loaded()

    def _show(self) -> None:
        labels = run_labels(self.runs)
        # One entry per line drawn: a run, or (bands) a configuration's seeds.
        groups: dict[tuple[Any, ...], list[RunRecord]] = {}
        for run in self.runs:
            key = (run.study, run.arm, run.spec_key) if self.bands else (run.id,)
            groups.setdefault(key, []).append(run)
        colors = {members[0].id: color_at(index) for index, members in enumerate(groups.values())}
        bands: dict[str, SeedBand] = {}
        for name in ("loss", *(family for family, _ in METRIC_FAMILIES)):
            series: dict[str, list[Any]] = {}
            series_colors: dict[str, Rgb] = {}
            best: dict[str, int | None] = {}
            for members in groups.values():
                lead = members[0].id
                if len(members) == 1:
                    series[lead] = _curve(self.curves[lead], name)
                    best[lead] = members[0].best_epoch
                    series_colors[lead] = colors[lead]
                    continue
                band = seed_band([_curve(self.curves[run.id], name) for run in members],
                                 bounds=METRIC_RANGE.get(name))
                if name == self.legend_metric:
                    bands[lead] = band
                for part, points in (("mean", band.mean), ("low", band.low),
                                     ("high", band.high)):
                    series[f"{lead} {part}"] = points
                    series_colors[f"{lead} {part}"] = colors[lead]
            self.query_one(f"#overlay-{name}", CurvePlot).show(
                series, best=best, colors=series_colors, smooth=self.smooth)
        legend = []
        for members in groups.values():
            run = members[0]
            if len(members) > 1:
                text = (f"{run.study or ''}/{run.arm or run.encoder} · N={len(members)} seeds: "
                        f"mean and its 95% interval (Student t) per epoch"
                        + _band_note(bands.get(run.id)))
            else:
                text = labels[run.id] + ("" if run.best_value is None else (
                    f" · best {run.selection_metric} {run.best_value:.4f} at epoch "
                    f"{(run.best_epoch or 0) + 1} (x)"))
            legend.append(f"[{markup(colors[run.id])}]━━[/] {escape(text)}")
        self.show_text("#legend", "\n".join(legend) or "none of these runs is in the store")
        self.show_text("#bar", f"{len(self.runs)} runs overlaid"
                               + (" · smoothed (EMA 0.6; m: off)" if self.smooth else
                                  " · m: smooth")
                               + (" · seed bands (b: off)" if self.bands else " · b: seed bands"))
        self.show_text("#spec-diff", spec_diff(self.runs))

    def action_bands(self) -> None:
        self.bands = not self.bands
        self._show()

    def action_smooth(self) -> None:
        self.smooth = not self.smooth
        self._show()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab


def _curve(curves: Curves, plot: str) -> list[Any]:
    """A run's curve on one plot: the training loss, or its validation curve of a family."""
    if plot == "loss":
        return curves.get(("train", "loss"), [])
    return _first_of(curves, plot, f"{plot}@10")


def _first_of(curves: Curves, family: str, preferred: str) -> list[Any]:
    """The run's validation curve of one metric family: @10 when recorded, else its first k."""
    if ("valid", preferred) in curves:
        return curves[("valid", preferred)]
    names = sorted(name for split, name in curves if split == "valid"
                   and name.startswith(f"{family}@"))
    return curves[("valid", names[0])] if names else []


def run_labels(runs: list[RunRecord]) -> dict[str, str]:
    """id, study/arm and the settings that differ among `runs`: a1a1a1a1 mind-text/IDRec lr=0.001."""
    keys = varying_keys([spec_items(run.spec_json) for run in runs])
    names = short_labels(keys)
    labels = {}
    for run in runs:
        flat = flat_spec(run.spec)
        where = "/".join(part for part in (run.study, run.arm or run.encoder) if part)
        settings = " ".join(f"{names[key]}={format_value(flat.get(key))}" for key in keys)
        labels[run.id] = " ".join(part for part in (run.id[:8], where, settings) if part)
    return labels


def spec_diff(runs: list[RunRecord]) -> str:
    """The settings that differ between the runs, one line each, the runs side by side (every
    setting, the arm's own label included: this is where two runs are told apart)."""
    if len(runs) < 2:
        return "Mark two runs or more (Space on the runs screen) to compare their settings."
    flats = [flat_spec(run.spec) for run in runs]
    keys = sorted({key for flat in flats for key in flat
                   if len({repr(other.get(key)) for other in flats}) > 1})
    if not keys:
        return "The runs' settings are the same."
    width = max(len(key) for key in keys)
    column = 14
    lines = [f"{'setting':<{width}}  " + "  ".join(f"{run.id[:8]:<{column}}" for run in runs)]
    for key in keys:
        lines.append(f"{key:<{width}}  " + "  ".join(
            f"{format_value(flat.get(key))[:column]:<{column}}" for flat in flats))
    return "\n".join(lines)
