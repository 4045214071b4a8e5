"""Drive a run's event generator into its sinks, handling stops and failures in one place.

The training loop (`train.iter_run`) only yields events. This driver hands each event to every
sink (the store, a pruner, a UI), turns a `StopRun` raised by any sink into a `RunFinished`
with that status, and turns every other exception into a `RunFailed` event before re-raising it.
A heartbeat thread keeps the run's row fresh during long epochs, so a run whose process dies
without a word is found and marked `interrupted` (see `Store.reap_dead_runs`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Sequence

from morec_core.run import events as ev
from morec_core.run.preemption import Preempted

HEARTBEAT_SECONDS = 30.0


class _Heartbeat:
    def __init__(self, beat: Callable[[], None], every_s: float) -> None:
        self._beat = beat
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="morec-heartbeat", daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self._beat()
            except Exception:  # noqa: BLE001 - a missed beat must not kill the run; the next retries
                continue

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def drive(events: Iterator[ev.Event], sinks: Sequence[ev.Sink], *, run_id: str,
          heartbeat: Callable[[], None] | None = None,
          heartbeat_s: float = HEARTBEAT_SECONDS) -> str:
    """Consume `events`, sending each to every sink; return the run's final status.

    Raises whatever the run raised, after recording it as `RunFailed` (or, for
    KeyboardInterrupt, as a cancelled run).
    """
    beat = _Heartbeat(heartbeat, heartbeat_s) if heartbeat is not None else None
    if beat is not None:
        beat.__enter__()
    status = "completed"
    try:
        for event in events:
            _emit(sinks, event)
            if isinstance(event, ev.RunFinished):
                status = event.status
    except ev.StopRun as stop:
        _close(events)
        _emit(sinks, ev.RunFinished(run_id=run_id, status=stop.status, reason=stop.reason))
        status = stop.status
    except Preempted as stop:
        # Its checkpoint is written (train.py): resumable, and said to be so.
        _close(events)
        _emit_quietly(sinks, ev.RunFinished(run_id=run_id, status="interrupted",
                                            reason=str(stop)))
        raise
    except KeyboardInterrupt:
        _close(events)
        _emit_quietly(sinks, ev.RunFinished(run_id=run_id, status="cancelled",
                                            reason="interrupted by the user"))
        raise
    except BaseException as error:
        _close(events)
        _emit_quietly(sinks, ev.RunFailed(run_id=run_id, error=f"{type(error).__name__}: {error}"))
        raise
    finally:
        if beat is not None:
            beat.__exit__(None, None, None)
    return status


def _emit(sinks: Sequence[ev.Sink], event: ev.Event) -> None:
    for sink in sinks:
        sink(event)


def _emit_quietly(sinks: Sequence[ev.Sink], event: ev.Event) -> None:
    """Record a failure in every sink that can take it; the original error is re-raised anyway."""
    for sink in sinks:
        try:
            sink(event)
        except Exception:  # noqa: BLE001 - already failing; the caller re-raises the cause
            continue


def _close(events: Iterator[ev.Event]) -> None:
    if isinstance(events, Generator):
        events.close()
