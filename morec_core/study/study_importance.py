"""Optuna's parameter importance for each arm of a study, read from the Optuna storage beside
the run store (`morec tune` keeps one Optuna study per arm, named `<study>:<arm>`), and as CSV.

Read-only: the storage is opened without creating tables, and a study that Optuna does not know
(or cannot rank yet: fewer than two finished trials, one parameter value) gets a reason instead.
Only the search's trials count (the grid on the search seed): the extra seeds of each arm's
winner would make the seed a parameter and the winner's value count three times (issue 24:
`train.lr 0.96 / seed 0.04` from 4 trials).
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from morec_core.paths import optuna_url_for
from morec_core.study.study_analytics import search_seed

MIN_TRIALS = 2
RANKED_TRIALS = 10
"""Below this many search trials the importances come with a "too few trials (N)" note:
PED-ANOVA (Optuna's evaluator here) compares the parameter values of the top 10% of trials
(its target_quantile) with those of all of them, and under 10 trials that top 10% is a single
trial, so the "importance" says where one trial lies rather than how the objective moves."""
SEED_PARAM = "seed"
"""The name `morec tune` records each trial's seed under in Optuna (tune._optuna_params)."""


@dataclass(frozen=True, kw_only=True)
class ArmImportance:
    arm: str
    importances: dict[str, float]
    """Parameter -> share of the variance of the objective it explains (PED-ANOVA: scikit-learn, which fANOVA needs, is not a dependency), summing to 1."""
    trials: int
    """Finished search trials the importances were computed from (extra seeds left out)."""
    reason: str = ""
    """Why there are none (empty when there are)."""
    note: str = ""
    """How far to trust them: "too few trials (N)" below RANKED_TRIALS."""


def param_importances(store_url: str, study: str, arms: Sequence[str]) -> list[ArmImportance]:
    """Per arm, optuna.importance.get_param_importances over its completed trials."""
    url = optuna_url_for(store_url)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        return [ArmImportance(arm=arm, importances={}, trials=0,
                              reason="no Optuna storage beside the store") for arm in arms]
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url, skip_table_creation=True)
    try:
        known = {summary.study_name for summary in optuna.get_all_study_summaries(storage)}
        found = []
        for arm in arms:
            name = f"{study}:{arm}"
            if name not in known:
                found.append(ArmImportance(arm=arm, importances={}, trials=0,
                                           reason=f"no Optuna study {name}"))
                continue
            loaded = optuna.load_study(study_name=name, storage=storage)
            finished = loaded.get_trials(deepcopy=False,
                                         states=(optuna.trial.TrialState.COMPLETE,))
            seed = search_seed([trial.params.get(SEED_PARAM) for trial in finished])
            complete = [trial for trial in finished if trial.params.get(SEED_PARAM) == seed]
            if len(complete) < MIN_TRIALS:
                found.append(ArmImportance(arm=arm, importances={}, trials=len(complete),
                                           reason=f"fewer than {MIN_TRIALS} finished trials"))
                continue
            try:
                with warnings.catch_warnings(record=True) as warned:
                    warnings.simplefilter("always")
                    # The search trials alone, in a study of their own (in memory).
                    search = optuna.create_study(direction=loaded.direction)
                    search.add_trials(complete)
                    params = sorted({param for trial in complete for param in trial.params
                                     if param != SEED_PARAM})
                    importances = optuna.importance.get_param_importances(
                        search, params=params,
                        evaluator=optuna.importance.PedAnovaImportanceEvaluator())
            except (ValueError, RuntimeError) as error:  # values it cannot rank
                found.append(ArmImportance(arm=arm, importances={}, trials=len(complete),
                                           reason=str(error).splitlines()[0]))
                continue
            if warned:  # "too small to compute importances ... will be equal": not a ranking
                found.append(ArmImportance(arm=arm, importances={}, trials=len(complete),
                                           reason=str(warned[0].message).split(". ")[0]))
                continue
            few = (f"too few trials ({len(complete)}): under {RANKED_TRIALS} search trials "
                   "PED-ANOVA's top 10% is one trial; a hint, not a ranking"
                   if len(complete) < RANKED_TRIALS else "")
            found.append(ArmImportance(arm=arm, importances=dict(importances),
                                       trials=len(complete),
                                       reason="" if importances else "no parameter varies",
                                       note=few if importances else ""))
        return found
    finally:
        storage.engine.dispose()


def importance_csv(found: Sequence[ArmImportance]) -> str:
    """arm,parameter,importance,trials: one line per arm and parameter."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["arm", "parameter", "importance", "trials"])
    for arm in found:
        for name, value in arm.importances.items():
            writer.writerow([arm.arm, name, f"{value:.6f}", arm.trials])
    return out.getvalue()


def importance_lines(found: Sequence[ArmImportance], width: int = 30) -> list[str]:
    """Bars for the terminal: `lr  ████████  0.82` per parameter, under each arm's name."""
    lines = []
    for arm in found:
        lines.append(f"{arm.arm} ({arm.trials} finished search trials)")
        for text in (arm.reason, arm.note):
            if text:
                lines.append(f"  {text}")
        names = _widths(arm.importances)
        for name, value in arm.importances.items():
            bar = "█" * max(1, round(value * width)) if value > 0 else ""
            lines.append(f"  {name:<{names}}  {bar:<{width}}  {value:.2f}")
    return lines


def _widths(importances: Mapping[str, float]) -> int:
    return max((len(name) for name in importances), default=0)
