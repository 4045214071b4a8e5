"""The engine's front door: every caller (`morec run`, `morec tune`'s trials, the dashboard's
jobs, a cluster launcher) turns its options into a spec here and runs a spec here.

- `spec_from_options`: the headline options (dataset, path, item encoder, model, backbone) and
  `section.key=value` overrides -> a RunSpec, one mapping for the CLI and the dashboard's form.
- `queue_run`: the run's row exists, status `queued`, with its id, before any process starts
  it: the dashboard knows its runs by id, and a job cancelled before its process ran leaves a
  run that says so.
- `execute`: one spec to its end with the standard sinks (the store first, so that the epoch a
  run collapsed at is recorded; then the collapse detector; then the caller's), the heartbeat, and the
  run's row marked `starting` before data loads, so a failure while loading is a `failed` run
  with its reason. Returns the final status.

Torch-free at import (the training loop is imported when a run executes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from morec_core import events as ev
from morec_core.collapse import CollapseDetector
from morec_core.config import RunSpec
from morec_core.run_context import RunContext
from morec_core.runner import drive
from morec_core.store import Store


def spec_from_options(*, dataset: str = "demo", path: str = "", encoder: str = "id",
                      model: str = "", backbone: str = "sasrec",
                      overrides: Sequence[str] = (), preset: str = "") -> RunSpec:
    """The spec of `morec run`'s options (and the dashboard form's fields): the preset's
    settings (morec_core.presets), then the overrides. Raises ConfigError naming the setting."""
    from morec_core.presets import find_preset

    chosen = find_preset(preset).run_overrides() if preset else ()
    return RunSpec().with_overrides([
        f"data.source={dataset}", f"data.path={path}", f"encoder.name={encoder}",
        f"encoder.model={model}", f"backbone.name={backbone}", *chosen, *overrides])


def queue_run(store: Store, spec: RunSpec, *, run_id: str | None = None,
              study: str | None = None, arm: str | None = None) -> str:
    """Record a run that a process will start later (status `queued`); returns its id."""
    run_id = run_id or ev.new_run_id()
    store.create_run(run_id, spec.to_dict(), spec.spec_key, status="queued", study=study,
                     arm=arm, selection_metric=spec.eval.selection_metric)
    return run_id


def execute(spec: RunSpec, context: RunContext, store: Store, *,
            sinks: Sequence[ev.Sink] = (), stop_on_collapse: bool = True,
            heartbeat: Callable[[], None] | None = None, record: bool = True) -> str:
    """Run `spec` to its end; returns its final status (completed, pruned, collapsed...).

    sinks: the caller's (a console, a pruner), after the standard ones. heartbeat: the caller's
    own beat, after the store's (e.g. the trial's). record=False (the ranks of a DDP run other
    than rank 0): no sinks, no heartbeat, no store writes. Raises what the run raised, after
    recording it as `failed` (or `cancelled` for KeyboardInterrupt).
    """
    from morec_core.train import iter_run

    if not record:
        return drive(iter_run(spec, context), [], run_id=context.run_id)
    # Before data loads: a run failing there is then a `failed` row with its reason.
    store.create_run(context.run_id, spec.to_dict(), spec.spec_key, status="starting",
                     study=context.study, arm=context.arm, trial_number=context.trial_number,
                     selection_metric=spec.eval.selection_metric)
    stop_on_collapse = stop_on_collapse and spec.train.stop_on_collapse
    # The store before the detector: the epoch that collapsed (its loss, NaN included, and its
    # metrics) is recorded, and then the run ends `collapsed`.
    standard: list[ev.Sink] = [store, *([CollapseDetector()] if stop_on_collapse else [])]

    def beat() -> None:
        if heartbeat is not None:  # the caller's first: a trial's liveness decides its retry
            heartbeat()
        store.heartbeat(context.run_id)

    return drive(iter_run(spec, context), [*standard, *sinks], run_id=context.run_id,
                 heartbeat=beat)
