"""Terminal output of commands: one-line errors and a sink that prints a run's progress."""

from __future__ import annotations

from typing import Any, NoReturn

import typer

from morec_core import events as ev


def fail(message: str, code: int = 2) -> NoReturn:
    """A one-line error on stderr and a non-zero exit."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


class ConsoleSink:
    """Prints epoch lines and final metrics; shows a progress bar per epoch unless quiet."""

    def __init__(self, spec: Any, *, quiet: bool = False) -> None:
        self._epochs = spec.train.epochs
        self._quiet = quiet
        self._bar: Any = None

    def __call__(self, event: ev.Event) -> None:
        if isinstance(event, ev.Progress):
            self._progress(event)
        elif isinstance(event, ev.EpochEnded):
            self._close_bar()
            typer.echo(f"epoch {event.epoch + 1}/{self._epochs}  loss {event.loss:.4f}  "
                       f"{event.seconds:.1f} s", err=True)
        elif isinstance(event, ev.Evaluated):
            metrics = "  ".join(f"{name} {value:.4f}" for name, value in event.metrics.items()
                                if name != "users")
            label = event.split if event.split == "valid" else f"{event.split} (best epoch {event.epoch + 1})"
            typer.echo(f"  {label}: {metrics}", err=event.split == "valid")
        elif isinstance(event, ev.CostMeasured) and event.seconds_per_epoch is not None:
            memory = (event.peak_memory_bytes or 0) / 2**30
            typer.echo(f"  cost: {event.trainable_params:,} trainable / {event.total_params:,} "
                       f"parameters, {event.seconds_per_epoch:.1f} s per epoch, "
                       f"peak memory {memory:.2f} GiB", err=True)
        elif isinstance(event, ev.RunFinished):
            self._close_bar()
            reason = f" ({event.reason})" if event.reason else ""
            typer.echo(f"run {event.run_id}: {event.status}{reason}", err=True)
        elif isinstance(event, ev.RunFailed):
            self._close_bar()

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
