"""A study's trials as Optuna's storage beside the run store holds them (`morec tune` keeps one
Optuna study per arm, `<study>:<arm>`), counted by state: the trials waiting for a worker have
no run yet, and a study made by `morec tune --name NAME` (no module to read its grid from) has
its grid only there. Read-only; no storage or no such study: no counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from morec_core.paths import optuna_url_for
from morec_core.study.trial_attributes import POINT_ATTR


def trial_states(store_url: str, study: str) -> dict[str, int]:
    """Optuna trial state name (WAITING, RUNNING, COMPLETE, PRUNED, FAIL) -> trials, over every
    arm's Optuna study of `study`."""
    return _read(store_url, study)[0]


def waiting_points(store_url: str, study: str) -> frozenset[str]:
    """The grid points (GridPoint.key) whose trial waits in Optuna for a worker."""
    return _read(store_url, study)[1]


def read_trials(store_url: str, study: str) -> tuple[dict[str, int], frozenset[str]]:
    """trial_states and waiting_points in one read."""
    return _read(store_url, study)


def _read(store_url: str, study: str) -> tuple[dict[str, int], frozenset[str]]:
    url = optuna_url_for(store_url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return {}, frozenset()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url, skip_table_creation=True)
    try:
        counts: Counter[str] = Counter()
        waiting: set[str] = set()
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            if summary.study_name.startswith(f"{study}:"):
                loaded = optuna.load_study(study_name=summary.study_name, storage=storage)
                for trial in loaded.get_trials(deepcopy=False):
                    counts[trial.state.name] += 1
                    if trial.state == optuna.trial.TrialState.WAITING:
                        waiting.add(str(trial.user_attrs.get(POINT_ATTR, "")))
        return dict(counts), frozenset(waiting)
    finally:
        storage.engine.dispose()
