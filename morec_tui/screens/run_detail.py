"""One run: summary, live curves (training loss; validation HR@k / NDCG@k), spec and log tail."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Log, Static, TabbedContent, TabPane

from morec_core.store import RunRecord, StoreError
from morec_tui.jobs import tail
from morec_tui.messages import RunLoaded
from morec_tui.screens.base import PollingScreen
from morec_tui.screens.jobs import show_log
from morec_tui.widgets.curves import CurvePlot
from morec_tui.widgets.run_rows import STATUS_STYLES
from morec_tui.widgets.wrapped_log import WrappedLog

METRIC_FAMILIES = (("hr", "HR@k"), ("ndcg", "NDCG@k"))
"""The validation plots: one per metric family, its cut-offs (@10, @20) as lines."""


class RunDetailScreen(PollingScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("1", "tab('curves')", "Curves"),
        Binding("2", "tab('spec')", "Spec"),
        Binding("3", "tab('log')", "Log"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.run: RunRecord | None = None
        self._log: list[str] | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"run {self.run_id}", id="bar", classes="bar")
        yield Static("loading…", id="summary")
        with TabbedContent(id="tabs"):
            with TabPane("Curves", id="curves"), Horizontal(id="plots"):
                # One axis per metric: HR and NDCG on one axis flattened NDCG's moves.
                yield CurvePlot("training loss", id="loss")
                for family, label in METRIC_FAMILIES:
                    yield CurvePlot(f"validation {label}", id=f"valid-{family}")
            with TabPane("Spec", id="spec"), VerticalScroll(id="spec-scroll", can_focus=True):
                yield Static("", id="spec-text")
            with TabPane("Log", id="log"):
                yield WrappedLog(id="log-text", auto_scroll=True)
        yield from self.compose_problem()
        yield Footer(compact=True, show_command_palette=False)

    def fetch_args(self) -> str:
        return self.run_id

    def fetch(self, run_id: Any) -> RunLoaded:
        store, queue = self.dashboard.store, self.dashboard.queue
        try:
            run = store.run(run_id)
        except StoreError:
            run = None  # a job announced it; it is still loading its data
        curves = store.curves(run_id) if run else {}
        test = store.metrics(run_id, "test") if run else {}
        job = queue.job_of_run(run_id, run.host if run else "", run.pid if run else None)
        return RunLoaded(run_id, run, curves, test, job.log if job else None,
                         tail(job.log) if job else [])

    def on_run_loaded(self, message: RunLoaded) -> None:
        run, curves = message.run, message.curves
        if run is None:
            self.show_text("#summary", "Waiting for the run to start (its job is loading data "
                                       "and building the model)…")
            self._show_log(message, "", None)
            self.loaded()
            return
        first = self.run is None
        self.run = run
        self.show_text("#bar", _title(run))
        self.show_text("#summary", _summary(run, message.test))
        best = run.best_epoch
        self.query_one("#loss", CurvePlot).show({"loss": curves.get(("train", "loss"), [])},
                                                best={"loss": best})
        for family, _ in METRIC_FAMILIES:
            valid = {name: points for (split, name), points in sorted(curves.items())
                     if split == "valid" and name.startswith(f"{family}@")}
            self.query_one(f"#valid-{family}", CurvePlot).show(
                valid or {f"{family}@10": []}, best={name: best for name in valid})
        if first:
            self.show_text("#spec-text", escape(_spec_lines(run.spec)))
        self._show_log(message, run.host, run.pid)
        self.loaded()

    def _show_log(self, message: RunLoaded, host: str, pid: int | None) -> None:
        lines = message.log if message.log_path else [
            "No log here: this run was started outside this dashboard",
            f"(host {host}, pid {pid}). Jobs launched with n log to",
            "<runs>/logs/job-<id>.log and show here."]
        if lines != self._log:
            show_log(self.query_one("#log-text", Log), self._log or [], lines)
            self._log = lines

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # The tab's content takes the keys (PgDn, End) at once, not after a Tab press.
        target = {"spec": "#spec-scroll", "log": "#log-text"}.get(event.pane.id or "")
        if target:
            self.query_one(target).focus()


def _title(run: RunRecord) -> str:
    style = STATUS_STYLES.get(run.status) or "default"  # "[]" would not be markup
    where = " / ".join(part for part in (run.study, run.arm) if part)
    return (f"run [b]{run.id[:8]}[/b] · [{style}]{run.status}[/] · "
            f"{escape(where or 'no study')} · {escape(run.dataset)}")


def _summary(run: RunRecord, test: dict[str, float]) -> str:
    epochs = "no epoch yet" if run.last_epoch is None else f"epochs {run.last_epoch + 1}"
    if run.best_epoch is not None:
        epochs += f", best {run.best_epoch + 1}"
    valid = ("" if run.best_value is None else
             f" · valid {run.selection_metric} [b]{run.best_value:.4f}[/b]")
    tests = " ".join(f"{name} [b]{value:.4f}[/b]" for name, value in sorted(test.items())
                     if _is_metric(name))
    lines = [
        f"{escape(run.encoder)} · {escape(run.backbone)} · "
        f"{escape(run.device or 'no device yet')} · {escape(run.host)} pid {run.pid}",
        f"{epochs}{valid}" + (f" · test {tests}" if tests else ""),
        "cost " + " · ".join(_cost(run)),
    ]
    why = run.error or run.status_reason
    if why:
        lines.append(f"[{STATUS_STYLES.get(run.status) or 'default'}]{run.status}[/]: "
                     f"{escape(why)}")
    return "\n".join(lines)


def _cost(run: RunRecord) -> list[str]:
    parts = []
    if run.trainable_params is not None:
        parts.append(f"{_count(run.trainable_params)}/{_count(run.total_params or 0)} "
                     "params trained")
    if run.seconds_per_epoch is not None:
        parts.append(f"{run.seconds_per_epoch:.1f} s/ep")
    if run.peak_memory_bytes is not None:
        parts.append(f"{run.peak_memory_bytes / 2**30:.2f} GiB peak")
    if run.flops_per_sample is not None:
        parts.append(f"{_count(run.flops_per_sample)} FLOP/sample")
    return parts or ["not measured yet"]


def _count(value: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def _spec_lines(spec: dict[str, Any]) -> str:
    """The spec as the `--set section.key=value` lines that would reproduce it."""
    return "\n".join(f"{section}.{key} = {value}" for section, values in spec.items()
                     for key, value in values.items())


def _is_metric(name: str) -> bool:
    """HR@k and NDCG@k; not the evaluation's user count or share of tied targets."""
    return name != "users" and not name.startswith("ties@")
