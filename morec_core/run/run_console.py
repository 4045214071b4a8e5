"""A run's progress as text: epoch lines, final metrics, and a progress bar on a terminal or
progress lines in a log. Printed by `morec run`, by the run process the dashboard's jobs and
DDP trials start (`python -m morec_core.launch`) and by a study's workers.

Plain lines on stdout and stderr, no terminal UI library: the engine may print them.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

from morec_core.run import events as ev

PROGRESS_LINE_ENV = "MOREC_PROGRESS_LINE_S"
"""Seconds between progress lines where the output is not a terminal (default 30): a log gets a
line per half minute of a long epoch, not a redrawn bar's carriage returns or nothing."""
PROGRESS_LINE_S = 30.0
# (exception, run id) of each run a ConsoleSink saw fail in this process: an error that ended a
# run exits 1 (the store records the run as failed), one before any run exits 2. Matched by
# identity, so that no other error is taken for a run's, even in a process (a test) that runs
# many commands.
RUN_ERRORS: list[tuple[BaseException, str]] = []


def progress_line_seconds() -> float:
    """$MOREC_PROGRESS_LINE_S, else PROGRESS_LINE_S. Raises ValueError naming the variable for
    a value that is not a number of seconds >= 0."""
    text = os.environ.get(PROGRESS_LINE_ENV, "")
    if not text:
        return PROGRESS_LINE_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds >= 0 or math.isinf(seconds):
        raise ValueError(f"${PROGRESS_LINE_ENV}: {text!r} is not a number of seconds >= 0")
    return seconds


def start_lines(run_id: str, spec: Any, store_url: str) -> list[str]:
    """What a run process says before its data loads (spec: a RunSpec)."""
    lines = [f"run {run_id}: {spec.encoder.name} item encoder, {spec.backbone.name} backbone, "
             f"{spec.data.source} data; store {store_url}"]
    if spec.train.compile:  # else the first step's bar stands still for a minute or more
        lines.append(f"run {run_id}: train.compile: the first training steps and the first "
                     "evaluation compile the network (a minute or more each)")
    return lines


def cancelled_line(run_id: str) -> str:
    return f"run {run_id}: cancelled; continue with `morec run --resume {run_id}`"


def interrupted_line(run_id: str, stop: BaseException) -> str:
    """After a SIGUSR2 (a Preempted): the checkpoint is at the step the run reached."""
    return (f"run {run_id}: interrupted ({stop}); its checkpoint is written, continue with "
            f"`morec run --resume {run_id}`")


def _echo(text: str, err: bool = False) -> None:
    """One line, flushed (a log read while the run goes on)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


class ProgressLines:
    """Prints, at most every `every_s` seconds of an epoch, one line: steps done, samples/s and
    the epoch's ETA; for output that is not a terminal, where a progress bar cannot redraw.
    epoch_lines: also a line at an epoch's end when `every_s` passed since the last epoch line
    (and at the last epoch), for logs with nothing else per epoch (a study's workers): epochs
    shorter than `every_s` printed nothing at all. Counted from the last epoch line, not from the
    last line of any kind: a step line 10 s before the end of a 40 s epoch hid every other
    epoch's line (and its validation value) under a 30 s interval."""

    def __init__(self, *, epochs: int, batch_size: int, every_s: float,
                 prefix: str = "", epoch_lines: bool = False, metric: str | None = None) -> None:
        self._epochs = epochs
        self._batch_size = batch_size
        self._every_s = every_s
        self._prefix = prefix
        self._epoch_lines = epoch_lines
        self._metric = metric
        self._epoch_started: float | None = None
        self._last_line: float | None = None
        self._first: float | None = None
        self._last_epoch_line: float | None = None
        # An epoch line waits for its epoch's validation (the next event), to carry its value.
        self._pending: tuple[int, str] | None = None

    def __call__(self, event: ev.Event) -> None:
        if self._first is None:
            self._first = event.time
        value = (event.metrics[self._metric] if isinstance(event, ev.Evaluated)
                 and event.split == "valid" and self._metric in event.metrics else None)
        if self._pending is not None and value is None:
            _echo(self._pending[1], err=True)
            self._pending = None
        if not isinstance(event, ev.Progress):
            if isinstance(event, ev.EpochEnded) and self._epoch_lines:
                self._epoch_ended(event)
            elif value is not None and isinstance(event, ev.Evaluated):
                self._validated(event.epoch, value)
            elif isinstance(event, ev.RunFinished) and self._epoch_lines:
                self._finished(event)
            # The trainer's last event before an epoch's steps (CostMeasured before the first,
            # CheckpointSaved before the others) is when the epoch began, to within a sink's
            # work: Progress events start only after progress_every_s of steps.
            self._epoch_started = event.time
            return
        started = event.time if self._epoch_started is None else self._epoch_started
        since = started if self._last_line is None else max(started, self._last_line)
        if event.time - since < self._every_s:
            return
        self._last_line = event.time
        elapsed = event.time - started
        steps_per_s = event.step / elapsed if elapsed > 0 else math.nan
        # The last batch may be smaller: samples/s is the batch size's, to within one batch.
        samples_per_s = steps_per_s * self._batch_size
        eta = (event.total_steps - event.step) / steps_per_s if steps_per_s > 0 else math.nan
        _echo(f"{self._prefix}epoch {event.epoch + 1}/{self._epochs}: step {event.step}/"
                   f"{event.total_steps}, {samples_per_s:,.0f} samples/s, loss {event.loss:.4f}, "
                   f"epoch ETA {_duration(eta)}", err=True)


    def _epoch_ended(self, event: ev.EpochEnded) -> None:
        last = event.epoch + 1 == self._epochs
        since = self._last_epoch_line if self._last_epoch_line is not None else self._first
        if not last and since is not None and event.time - since < self._every_s:
            return
        self._last_line = self._last_epoch_line = event.time
        line = (f"{self._prefix}epoch {event.epoch + 1}/{self._epochs} done: loss "
                f"{event.loss:.4f}, {_duration(event.seconds)}")
        if self._metric is None:
            _echo(line, err=True)
        else:
            self._pending = (event.epoch, line)

    def _validated(self, epoch: int, value: float) -> None:
        if self._pending is not None:
            pending_epoch, line = self._pending
            self._pending = None
            if pending_epoch == epoch:
                line += f", valid {self._metric} {value:.4f}"
            _echo(line, err=True)

    def _finished(self, event: ev.RunFinished) -> None:
        """The run's best validation epoch, the number its trial is judged by: the event's (a
        resumed run's best may be an epoch of the process before)."""
        if event.best_epoch is not None and event.best_value is not None and self._metric:
            _echo(f"{self._prefix}best valid {self._metric} {event.best_value:.4f} at epoch "
                  f"{event.best_epoch + 1}", err=True)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


class ConsoleSink:
    """Prints epoch lines and final metrics; unless quiet, a progress bar per epoch on a terminal
    and progress lines (ProgressLines) elsewhere.

    terminal: whether stderr is one (default: asked of sys.stderr). progress_line_s: seconds
    between progress lines (default: progress_line_seconds())."""

    def __init__(self, spec: Any, *, quiet: bool = False, terminal: bool | None = None,
                 progress_line_s: float | None = None) -> None:
        self._epochs = spec.train.epochs
        self._quiet = quiet
        self._bar: Any = None
        terminal = sys.stderr.isatty() if terminal is None else terminal
        self._lines = None if terminal or quiet else ProgressLines(
            epochs=spec.train.epochs, batch_size=spec.train.batch_size,
            every_s=progress_line_seconds() if progress_line_s is None else progress_line_s)

    def __call__(self, event: ev.Event) -> None:
        if self._lines is not None:
            self._lines(event)
        if isinstance(event, ev.Progress):
            if self._lines is None:
                self._progress(event)
        elif isinstance(event, ev.EpochEnded):
            self._close_bar()
            _echo(f"epoch {event.epoch + 1}/{self._epochs}  loss {event.loss:.4f}  "
                       f"{event.seconds:.1f} s", err=True)
        elif isinstance(event, ev.Evaluated):
            metrics = "  ".join(f"{name} {value:.4f}" for name, value in event.metrics.items()
                                if name != "users")
            label = event.split if event.split == "valid" else f"{event.split} (best epoch {event.epoch + 1})"
            _echo(f"  {label}: {metrics}", err=event.split == "valid")
        elif isinstance(event, ev.CostMeasured) and event.seconds_per_epoch is not None:
            memory = (event.peak_memory_bytes or 0) / 2**30
            _echo(f"  cost: {event.trainable_params:,} trainable / {event.total_params:,} "
                       f"parameters, {event.seconds_per_epoch:.1f} s per epoch, "
                       f"peak memory {memory:.2f} GiB", err=True)
        elif isinstance(event, ev.RunFinished):
            self._close_bar()
            reason = f" ({event.reason})" if event.reason else ""
            _echo(f"run {event.run_id}: {event.status}{reason}", err=True)
        elif isinstance(event, ev.RunFailed):
            self._close_bar()
            # runner.drive reports a failure inside its `except` clause: the exception being
            # handled is the one that ended the run, and the one that reaches cli.main.
            failure = sys.exc_info()[1]
            if failure is not None:
                RUN_ERRORS.append((failure, event.run_id))

    def _progress(self, event: ev.Progress) -> None:
        if self._quiet:
            return
        if self._bar is None:
            from tqdm import tqdm

            self._bar = tqdm(total=event.total_steps, desc=f"epoch {event.epoch + 1}",
                             unit="batch", leave=False)
        self._bar.n = event.step
        self._bar.set_postfix(loss=f"{event.loss:.4f}", refresh=False)
        self._bar.refresh()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
