"""Per-user results for runs recorded before morec kept them (`morec compare --recompute`):
each run is built again from its stored spec, its best checkpoint is loaded, and validation and
the test splits are evaluated once more; the results go to the store, the run itself is left as
it was (status, metrics and curves unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from morec_core.config import ConfigError
from morec_core.store import RunRecord, Store


@dataclass(frozen=True, kw_only=True)
class Recomputed:
    run_id: str
    splits: tuple[str, ...] = ()
    problem: str = ""
    """Why nothing was recomputed (no checkpoint, a spec this morec cannot read...)."""


def recompute_user_results(store: Store, run: RunRecord, runs_dir: Path) -> Recomputed:
    """Evaluate one completed run again from `runs_dir/<id>/best.pt` and store its per-user
    results under the run's own tie rule and k. Never raises for a run that cannot be redone:
    the reason is returned."""
    from morec_core import checkpoint
    from morec_core.build import build_run
    from morec_core.devices import place

    if run.best_epoch is None:
        return Recomputed(run_id=run.id, problem="no best epoch recorded")
    best = runs_dir / run.id / "best.pt"
    if run.checkpoint_path:
        best = Path(run.checkpoint_path).with_name("best.pt")
    if not best.is_file():
        return Recomputed(run_id=run.id, problem=f"{best}: no best checkpoint")
    try:
        spec = run.run_spec
    except ConfigError as error:
        return Recomputed(run_id=run.id, problem=f"stored spec: {error}")
    placement = place(spec.train.device, spec.train.precision)
    built = build_run(spec, placement.device)
    built.model.load_state_dict(checkpoint.load_weights(best)["model"])
    # item_table and evaluate run in eval and inference mode themselves.
    with placement.autocast():
        table = built.item_table()
        splits = ["valid", *built.test_splits()]
        for split in splits:
            store.put_user_results(run.id, split, run.best_epoch, built.evaluate(split, table))
    return Recomputed(run_id=run.id, splits=tuple(splits))
