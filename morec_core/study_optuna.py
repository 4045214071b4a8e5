"""A study's trials as Optuna's storage beside the run store holds them (`morec tune` keeps one
Optuna study per arm, `<study>:<arm>`), counted by state: the trials waiting for a worker have
no run yet, and a study made by `morec tune --name NAME` (no module to read its grid from) has
its grid only there. Read-only; no storage or no such study: no counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from morec_core.tune import optuna_url_for


def trial_states(store_url: str, study: str) -> dict[str, int]:
    """Optuna trial state name (WAITING, RUNNING, COMPLETE, PRUNED, FAIL) -> trials, over every
    arm's Optuna study of `study`."""
    url = optuna_url_for(store_url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return {}
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url, skip_table_creation=True)
    try:
        counts: Counter[str] = Counter()
        for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
            if summary.study_name.startswith(f"{study}:"):
                loaded = optuna.load_study(study_name=summary.study_name, storage=storage)
                counts.update(trial.state.name for trial in loaded.get_trials(deepcopy=False))
        return dict(counts)
    finally:
        storage.engine.dispose()
