"""Statistics behind the verdicts of `morec compare`: does a treatment arm (MoRec) beat a control
arm (IDRec) on per-user metric vectors (HR@10 / NDCG@10 of each test user)?

Such vectors are sparse: most users score 0 in both arms and add nothing to any sum. The paired
bootstrap and the randomization test draw only for the other users, in a way that is exactly
equivalent in distribution to resampling every user:
- bootstrap: of U draws from U users, the count that lands on a set of users holding a share s
  of them is Binomial(U, s), and those draws are uniform over that set. Users that share one
  (difference, control) pair (HR is 0/1, NDCG takes few values) form a group whose count is a
  multinomial category; the remaining "light" users are drawn one by one;
- randomization: under H0 each difference keeps or flips its sign with probability 1/2; a zero
  difference never changes the statistic, so signs are drawn for the nonzero ones only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# scipy.stats is imported where it is used: it takes some 1.5 s to import, and the dashboard
# reads this module (seed_interval) before it draws anything (issue 24: startup).

CORRECTIONS = ("holm", "bh", "none")
_HEAVY_GROUP = 32
"""Size from which a group of users sharing one (difference, control) pair is resampled as one
multinomial category: a category costs about as much per replicate as 20 single draws."""
_CHUNK = 1 << 16
"""Random numbers drawn per chunk of replicates: bounds memory and keeps each chunk in cache
(4x larger chunks were 4x slower here)."""
_SLOTS = 1 << 16
"""Slots of the bootstrap's look-up table, one per value of a raw 16-bit random word."""
_TIE_TOLERANCE = 1e-9
"""Relative to the sum of |differences|: sign-flipped sums equal to the observed one up to
rounding count as ties (HR differences are multiples of 1/S, so ties are common)."""


@dataclass(frozen=True, kw_only=True)
class PairedResult:
    users: int
    """Number of paired users."""
    treatment_mean: float
    """Mean over users of the treatment arm's metric."""
    control_mean: float
    """Mean over users of the control arm's metric."""
    difference: float
    """Mean over users of treatment - control."""
    difference_ci: tuple[float, float]
    """Paired bootstrap percentile interval of `difference` (resampling users)."""
    relative: float | None
    """difference / control_mean; None when control_mean is 0."""
    relative_ci: tuple[float, float] | None
    """Percentile interval of (mean_t* - mean_c*) / mean_c* over the same bootstrap resamples;
    None when control_mean is 0."""
    p_t: float
    """Two-sided paired t-test (scipy.stats.ttest_rel); 1.0 when every difference is 0."""
    p_randomization: float
    """Two-sided paired randomization (sign-flip) test of the mean difference, (b + 1) / (R + 1)
    with b the resamples at least as extreme as the observed difference."""
    p_wilcoxon: float | None
    """Two-sided scipy.stats.wilcoxon signed-rank test when asked for (1.0 when every difference
    is 0); None otherwise."""
    resamples: int
    """Bootstrap resamples, and randomization resamples, R."""


def seed_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """Student-t confidence interval of the mean of per-seed values; None with fewer than 2 values
    (and the degenerate (m, m) when all values are equal)."""
    from scipy import stats
    _check_confidence(confidence)
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or not np.isfinite(array).all():
        raise ValueError(f"seed values must be a flat list of finite numbers, got {values!r}")
    if array.size < 2:
        return None
    if np.all(array == array[0]):  # exactly the value: the mean may round off it
        return (float(array[0]), float(array[0]))
    mean, deviation = float(array.mean()), float(array.std(ddof=1))
    quantile = float(stats.t.ppf((1 + confidence) / 2, array.size - 1))
    half = quantile * deviation / np.sqrt(array.size)
    return (mean - half, mean + half)


def paired_comparison(treatment: np.ndarray, control: np.ndarray, *, confidence: float = 0.95,
                      resamples: int = 10_000, seed: int = 0,
                      wilcoxon: bool = False) -> PairedResult:
    """treatment, control: (U,) float per-user values of the same users in the same order."""
    from scipy import stats
    treatment, control = _as_vector("treatment", treatment), _as_vector("control", control)
    if treatment.shape != control.shape:
        raise ValueError(f"treatment and control must hold the same users: {treatment.size} "
                         f"values against {control.size}")
    if treatment.size < 2:
        raise ValueError("a paired comparison needs at least 2 users")
    _check_confidence(confidence)
    if resamples < 100:
        raise ValueError(f"resamples must be at least 100, got {resamples}")
    users = treatment.size
    differences = treatment - control  # (U,)
    treatment_mean, control_mean = float(treatment.mean()), float(control.mean())
    difference = float(differences.mean())
    rng = np.random.default_rng(seed)

    # Users with 0 in both arms add nothing to any resampled sum: keep the others, (m,).
    active = (treatment != 0) | (control != 0)
    difference_sums, control_sums = _bootstrap_sums(differences[active], control[active], users,
                                                    resamples, rng)  # (R,), (R,)
    tails = [(1 - confidence) / 2, (1 + confidence) / 2]
    low, high = np.quantile(difference_sums / users, tails)
    relative = relative_ci = None
    if control_mean != 0:
        relative = difference / control_mean
        with np.errstate(divide="ignore", invalid="ignore"):
            # A resample that misses every control hit has an infinite relative change (0/0,
            # no hit on either side: undefined, dropped as NaN); an interpolation between two
            # infinite resamples, or one with weight 0, is NaN: the order statistic it stands
            # for is the bound then (an unbounded interval is the honest answer).
            relatives = difference_sums / control_sums  # (R,)
            bounds = np.nanquantile(relatives, tails)
        if np.isnan(bounds).any():
            bounds = np.where(np.isnan(bounds),
                              np.nanquantile(relatives, tails, method="nearest"), bounds)
        relative_ci = (float(bounds[0]), float(bounds[1]))

    nonzero = differences[differences != 0]  # (n,) the only signs that change the statistic
    if nonzero.size == 0:
        p_t = 1.0
    elif np.all(nonzero == nonzero[0]) and nonzero.size == users:
        p_t = 0.0  # a constant nonzero difference: the t statistic is infinite
    else:
        p_t = float(stats.ttest_rel(treatment, control).pvalue)
    p_wilcoxon = None
    if wilcoxon:
        p_wilcoxon = float(stats.wilcoxon(treatment, control).pvalue) if nonzero.size else 1.0
    return PairedResult(
        users=users, treatment_mean=treatment_mean, control_mean=control_mean,
        difference=difference, difference_ci=(float(low), float(high)), relative=relative,
        relative_ci=relative_ci, p_t=p_t, p_randomization=_randomization_p(nonzero, resamples, rng),
        p_wilcoxon=p_wilcoxon, resamples=resamples)


def adjust_p_values(p_values: Sequence[float], method: str) -> list[float]:
    """Family-wise / false-discovery adjusted p-values, in the input order: holm (Holm-Bonferroni
    step-down, monotone, capped at 1), bh (Benjamini-Hochberg step-up, monotone, capped at 1),
    none (unchanged). Unknown method: ValueError listing CORRECTIONS. Empty input -> []."""
    if method not in CORRECTIONS:
        raise ValueError(f"unknown correction {method!r}; choose one of {', '.join(CORRECTIONS)}")
    array = np.asarray(p_values, dtype=np.float64)
    if array.ndim != 1 or not np.all((array >= 0) & (array <= 1)):
        raise ValueError(f"p-values must be a flat list of numbers in [0, 1], got {p_values!r}")
    count = array.size
    if method == "none" or count == 0:
        return array.tolist()
    order = np.argsort(array, kind="stable")  # (n,) smallest first
    ranked = array[order]
    if method == "holm":
        # k-th smallest times (n - k + 1), made non-decreasing from the smallest on.
        adjusted = np.maximum.accumulate(ranked * np.arange(count, 0, -1))
    else:
        # k-th smallest times n / k, made non-decreasing from the largest down (step-up).
        adjusted = np.minimum.accumulate((ranked * count / np.arange(1, count + 1))[::-1])[::-1]
    result = np.empty(count)
    result[order] = np.minimum(adjusted, 1.0)
    return result.tolist()


def _bootstrap_sums(differences: np.ndarray, controls: np.ndarray, users: int, resamples: int,
                    rng: np.random.Generator, heavy_group: int = _HEAVY_GROUP,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Sums of differences and of controls over each of `resamples` bootstrap resamples of
    `users` users. differences, controls: (m,) of the users not 0 in both arms; the other
    users - 0 in both - add nothing. Returns (R,), (R,)."""
    pairs, group, sizes = np.unique(np.stack([differences, controls], axis=1), axis=0,
                                    return_inverse=True, return_counts=True)  # (K, 2), (m,), (K,)
    heavy = sizes >= heavy_group  # (K,)
    light = ~heavy[group.ravel()]  # (m,)
    # One complex gather and one complex sum add up both: real = difference, imag = control.
    light_values = differences[light] + 1j * controls[light]  # (L,)
    light_count = light_values.size
    # Light users fill a table of 2**16 slots, each user the same number of times, the rest 0:
    # a raw 16-bit random word picks a slot uniformly, so it lands on a user with probability
    # hit = filled / 2**16 and is then uniform over them. Binomial(U, (L / U) / hit) words per
    # replicate thus give Binomial(U, L / U) uniform draws on the light users: exactly the full
    # bootstrap, at a fraction of the cost of bounded random integers.
    table, hit = None, 1.0
    if 0 < light_count <= _SLOTS:
        table = np.zeros(_SLOTS, dtype=np.complex128)
        filled = _SLOTS // light_count * light_count
        table[:filled] = np.resize(light_values, filled)
        hit = filled / _SLOTS
    probabilities = np.append(sizes[heavy], light_count / hit) / users  # (H + 1,)
    if probabilities.sum() > 1 - 1e-12:  # dense data: no room for rejected words
        table, hit = None, 1.0
        probabilities[-1] = light_count / users
    probabilities = np.append(probabilities, max(0.0, 1 - probabilities.sum()))  # (H + 2,)
    heavy_pairs = pairs[heavy]  # (H, 2)
    chunk = max(1, int(_CHUNK / max(1.0, light_count / hit)))
    difference_sums, control_sums = np.empty(resamples), np.empty(resamples)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        counts = rng.multinomial(users, probabilities, size=stop - start)  # (C, H + 2)
        sums = counts[:, :-2].astype(np.float64) @ heavy_pairs  # (C, 2)
        draws = counts[:, -2]  # (C,) light draws (or raw words) of each replicate
        total = int(draws.sum())
        light_sums = np.zeros(stop - start, dtype=np.complex128)  # (C,)
        if total:
            if table is not None:
                words = rng.bit_generator.random_raw(-(-total // 4)).view(np.uint16)[:total]
                picked = table.take(words)  # (total,)
            else:
                picked = light_values.take(rng.integers(0, light_count, size=total))
            starts = np.cumsum(draws) - draws  # (C,) where each replicate's draws begin
            nonempty = draws > 0
            light_sums[nonempty] = np.add.reduceat(picked, starts[nonempty])
        difference_sums[start:stop] = sums[:, 0] + light_sums.real
        control_sums[start:stop] = sums[:, 1] + light_sums.imag
    return difference_sums, control_sums


def _randomization_p(differences: np.ndarray, resamples: int, rng: np.random.Generator) -> float:
    """Two-sided sign-flip p-value of the mean of differences: (n,) the nonzero ones (zero ones
    never change the statistic, and the user count only scales it)."""
    if differences.size == 0:
        return 1.0
    observed = abs(float(differences.sum()))
    tolerance = _TIE_TOLERANCE * float(np.abs(differences).sum())
    # Each random byte flips the signs of 8 users at once: per group of 8, a table of the 256
    # signed sums turns 8 multiply-adds into one look-up (tables: n * 256 bytes).
    groups = -(-differences.size // 8)
    padded = np.zeros(groups * 8)
    padded[:differences.size] = differences
    bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little")
    tables = padded.reshape(groups, 8) @ (1.0 - 2.0 * bits.T)  # (G, 256): bit b flips user b
    flat = tables.ravel()
    offsets = np.arange(groups) * 256  # (G,) where each group's table begins in `flat`
    chunk = max(1, _CHUNK // groups)
    extreme = 0
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        raw = rng.bit_generator.random_raw(-(-rows * groups // 8)).view(np.uint8)
        flipped = flat.take(raw[:rows * groups].reshape(rows, groups) + offsets).sum(axis=1)
        extreme += int(np.count_nonzero(np.abs(flipped) >= observed - tolerance))  # (C,)
    return (extreme + 1) / (resamples + 1)


def _as_vector(name: str, values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per user), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: no users to compare")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
