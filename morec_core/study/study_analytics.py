"""What the study view plots of a study's trials, beyond study_view's rows: per arm and value of
one grid key, the mean over the trials there (seeds, and the other keys' values pooled) with
its 95% Student-t interval; and the trials an importance may be computed from (the search,
not the extra seeds of each arm's winner). No Textual, no plotext: tests check it on records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from morec_core.results.stats import seed_interval
from morec_core.study.study_view import SEED_KEY, Trial


@dataclass(frozen=True, kw_only=True)
class GridMean:
    """One arm at one value of the plotted grid key."""

    arm: str
    x: float
    mean: float
    """Mean best validation metric of the finished, not collapsed trials there."""
    half: float | None
    """Half the 95% Student-t interval of that mean (None: one trial, no interval)."""
    trials: int


def grid_means(found: Sequence[Trial], key: str) -> list[GridMean]:
    """Per (arm, value of `key`), in arm then value order. Collapsed trials are left out (the
    plot marks them on their own) and so are trials without a best value yet."""
    groups: dict[tuple[str, float], list[float]] = {}
    for trial in found:
        x = trial.params.get(key)
        value = trial.run.best_value
        if (not isinstance(x, int | float) or isinstance(x, bool) or value is None
                or not math.isfinite(value) or trial.run.status == "collapsed"):
            continue
        groups.setdefault((trial.run.arm, float(x)), []).append(float(value))
    means = []
    for (arm, x), values in sorted(groups.items()):
        interval = seed_interval(values)
        means.append(GridMean(arm=arm, x=x, mean=sum(values) / len(values),
                              half=None if interval is None else (interval[1] - interval[0]) / 2,
                              trials=len(values)))
    return means


def search_seed(seeds: Sequence[object]) -> object | None:
    """The seed a study searched its grid on: its first (a study module's `seed_values[0]`);
    read from the trials, the seed most of them ran on (the search has one trial per grid
    point, the winner's extra seeds one each)."""
    counts: dict[object, int] = {}
    for seed in seeds:
        counts[seed] = counts.get(seed, 0) + 1
    return max(counts, key=lambda seed: counts[seed]) if counts else None


def search_trials(found: Sequence[Trial]) -> list[Trial]:
    """The trials of the search: those on the search seed (all of them when the seed does not
    vary among the trials)."""
    seeds = [trial.params.get(SEED_KEY) for trial in found]
    seed = search_seed(seeds)
    return [trial for trial in found if trial.params.get(SEED_KEY) == seed]
