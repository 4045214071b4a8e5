"""morec_core.results.stats against scipy.stats and hand-computed values. Random tests are seeded; their
tolerances are several Monte Carlo standard errors wide."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from morec_core.results.stats import (
    CORRECTIONS,
    _bootstrap_sums,
    adjust_p_values,
    paired_comparison,
    seed_interval,
)


def sparse_ndcg(users: int, seed: int, lift: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(U,) treatment and control NDCG@10-like values (1 / log2(rank + 1) on a hit), about 10%
    of users nonzero in either arm, paired through a shared per-user propensity."""
    rng = np.random.default_rng(seed)
    propensity = rng.beta(0.3, 6.0, size=users) * 1.2

    def arm(scale: float) -> np.ndarray:
        hits = rng.random(users) < np.minimum(1.0, propensity * scale)
        return hits / np.log2(rng.integers(1, 11, size=users) + 1.0)

    return arm(lift), arm(1.0)


def sparse_hr(users: int, seed: int, lift: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(U,) treatment and control HR@10 (0/1), both arms Bernoulli of one per-user propensity
    (mean 0.1), the treatment's scaled by `lift`."""
    rng = np.random.default_rng(seed)
    propensity = rng.beta(0.5, 4.5, size=users)
    treatment = rng.random(users) < np.minimum(1.0, propensity * lift)
    return treatment.astype(float), (rng.random(users) < propensity).astype(float)


def within(interval, reference, share: float = 0.1) -> bool:
    """Both ends of `interval` within `share` of the reference interval's width."""
    low, high = reference
    tolerance = share * (high - low)
    return abs(interval[0] - low) <= tolerance and abs(interval[1] - high) <= tolerance


def test_t_test_p_value_is_scipys():
    treatment, control = sparse_ndcg(500, seed=1, lift=1.3)
    result = paired_comparison(treatment, control, resamples=200)
    assert result.p_t == stats.ttest_rel(treatment, control).pvalue
    assert result.users == 500
    assert result.treatment_mean == pytest.approx(treatment.mean())
    assert result.control_mean == pytest.approx(control.mean())
    assert result.difference == pytest.approx(treatment.mean() - control.mean())


def test_bootstrap_intervals_match_scipys_full_bootstrap():
    # The sparse draws (only users nonzero in an arm) must resample like scipy's full-size
    # bootstrap: for the difference, and for the relative change, whose control mean's spread
    # depends on the random number of draws that land on nonzero users.
    treatment, control = sparse_ndcg(2000, seed=2, lift=1.2)
    assert 0.05 < np.mean((treatment != 0) | (control != 0)) < 0.2
    result = paired_comparison(treatment, control, resamples=20_000, seed=3)
    reference = stats.bootstrap((treatment - control,), np.mean, method="percentile",
                                n_resamples=10_000, rng=np.random.default_rng(4))
    assert within(result.difference_ci, reference.confidence_interval)

    def relative(t, c, axis=-1):
        return (t.mean(axis) - c.mean(axis)) / c.mean(axis)

    reference = stats.bootstrap((treatment, control), relative, paired=True, vectorized=True,
                                method="percentile", n_resamples=10_000,
                                rng=np.random.default_rng(5))
    assert within(result.relative_ci, reference.confidence_interval)


def assert_full_bootstrap_moments(treatment: np.ndarray, control: np.ndarray, resamples: int,
                                  heavy_group: int, tolerance: float) -> None:
    """A resample's mean of x over U users has variance var(x) / U (var: the population
    variance), and covariances likewise; its mean is x's mean."""
    users = treatment.size
    differences = treatment - control
    active = (treatment != 0) | (control != 0)
    difference_sums, control_sums = _bootstrap_sums(
        differences[active], control[active], users, resamples, np.random.default_rng(6),
        heavy_group=heavy_group)
    replicates = np.stack([difference_sums, control_sums]) / users  # (2, R)
    expected = np.cov(np.stack([differences, control]), bias=True) / users  # (2, 2)
    observed = np.cov(replicates)
    assert observed[0, 0] == pytest.approx(expected[0, 0], rel=tolerance)
    assert observed[1, 1] == pytest.approx(expected[1, 1], rel=tolerance)
    assert observed[0, 1] == pytest.approx(expected[0, 1], abs=tolerance * np.sqrt(
        expected[0, 0] * expected[1, 1]))
    standard_error = np.sqrt(np.diag(expected) / resamples)
    assert np.all(np.abs(replicates.mean(axis=1) - [differences.mean(), control.mean()])
                  < 5 * standard_error)


@pytest.mark.parametrize("heavy_group", [1, 10**9])
@pytest.mark.parametrize("kind", ["hr", "ndcg", "dense"])
def test_every_resampling_path_has_the_full_bootstraps_moments(kind, heavy_group):
    # Grouped users (multinomial categories, heavy_group=1), single users (the 16-bit table,
    # heavy_group=10**9), and dense data (bounded integers).
    if kind == "dense":
        rng = np.random.default_rng(7)
        treatment, control = rng.random(300), rng.random(300)
    else:
        treatment, control = (sparse_hr if kind == "hr" else sparse_ndcg)(3000, seed=7)
    assert_full_bootstrap_moments(treatment, control, 20_000, heavy_group, tolerance=0.05)


def test_a_half_empty_table_draws_twice_the_words():
    # 32,769 distinct users fill one slot each of the table's 65,536: about half the random
    # words land on no user, and the word count per replicate must make up for it.
    rng = np.random.default_rng(8)
    users, active = 100_000, 32_769
    treatment, control = np.zeros(users), np.zeros(users)
    treatment[:active], control[:active] = rng.random(active), rng.random(active)
    assert_full_bootstrap_moments(treatment, control, 2_000, 10**9, tolerance=0.15)


def test_randomization_p_matches_scipys_permutation_test():
    treatment, control = sparse_ndcg(600, seed=8, lift=1.6)
    result = paired_comparison(treatment, control, resamples=20_000, seed=9)
    reference = stats.permutation_test(
        (treatment, control), lambda t, c, axis=-1: np.mean(t - c, axis=axis), vectorized=True,
        permutation_type="samples", n_resamples=10_000, rng=np.random.default_rng(10)).pvalue
    assert 0.02 < reference < 0.2
    # Standard error of the difference of the two estimates: about 0.003 at p = 0.05.
    assert result.p_randomization == pytest.approx(reference, abs=0.015)


def test_randomization_p_counts_ties_like_the_exact_sign_test():
    # HR differences are +-1: the sign-flipped statistic equals the observed one often, and
    # those ties count as extreme. Exact reference: the two-sided binomial sign test.
    treatment, control = sparse_hr(1500, seed=11, lift=1.2)
    differences = treatment - control
    positive, nonzero = int(np.sum(differences > 0)), int(np.sum(differences != 0))
    exact = stats.binomtest(positive, nonzero, 0.5).pvalue
    assert 0.02 < exact < 0.2
    result = paired_comparison(treatment, control, resamples=20_000, seed=12)
    assert result.p_randomization == pytest.approx(exact, abs=4 * np.sqrt(exact / 20_000) + 1e-3)


def test_holm_and_benjamini_hochberg_by_hand():
    p_values = [0.01, 0.04, 0.03, 0.005]
    # Sorted 0.005, 0.01, 0.03, 0.04. Holm: x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04, running max.
    assert adjust_p_values(p_values, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: x4/1, x4/2, x4/3, x4/4 = 0.02, 0.02, 0.04, 0.04, running min from the largest down.
    assert adjust_p_values(p_values, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust_p_values(p_values, "none") == p_values
    # BH's step-up: 0.04, 0.04, 0.0333, 0.5 -> the 0.0333 carries down to the two smaller.
    assert adjust_p_values([0.01, 0.02, 0.025, 0.5], "bh") == pytest.approx(
        [0.1 / 3, 0.1 / 3, 0.1 / 3, 0.5])
    # Capped at 1, and monotone: 2 x 0.6 = 1.2 -> 1, then max(1, 0.7).
    assert adjust_p_values([0.6, 0.7], "holm") == [1.0, 1.0]
    assert adjust_p_values([0.9, 0.95], "bh") == pytest.approx([0.95, 0.95])
    assert all(adjust_p_values([], method) == [] for method in CORRECTIONS)


def test_relative_change_on_a_planted_case():
    rng = np.random.default_rng(13)
    control = np.where(rng.random(1000) < 0.1, rng.random(1000), 0.0)
    result = paired_comparison(control * 1.25, control, resamples=500)
    # treatment = 1.25 x control for every user, hence in every resample too.
    assert result.relative == pytest.approx(0.25)
    assert result.relative_ci == pytest.approx((0.25, 0.25))
    assert result.difference_ci[0] > 0
    zeros = paired_comparison(control, np.zeros(1000), resamples=500)
    assert zeros.relative is None and zeros.relative_ci is None
    assert zeros.difference == pytest.approx(control.mean())


def test_a_control_with_one_hit_gives_an_unbounded_relative_interval_not_nan():
    """One control hit among 50 users: about a third of the resamples miss it, and their
    relative change is infinite. The upper bound is +inf (said as unbounded), never NaN, and no
    floating-point warning reaches the user's terminal."""
    control = np.zeros(50)
    control[0] = 1.0
    treatment = np.zeros(50)
    treatment[1:11] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = paired_comparison(treatment, control, resamples=2000)
    assert result.relative == pytest.approx(9.0)
    low, high = result.relative_ci
    assert np.isfinite(low) and low > 0
    assert high == np.inf


def test_seed_interval_is_student_t():
    values = [0.31, 0.29, 0.35, 0.30]
    mean, deviation = np.mean(values), np.std(values, ddof=1)
    half = stats.t.ppf(0.975, 3) * deviation / np.sqrt(4)
    assert seed_interval(values) == pytest.approx((mean - half, mean + half))
    half = stats.t.ppf(0.95, 3) * deviation / np.sqrt(4)
    assert seed_interval(values, confidence=0.9) == pytest.approx((mean - half, mean + half))
    assert seed_interval([0.3]) is None
    assert seed_interval([]) is None
    assert seed_interval([0.2, 0.2, 0.2]) == (0.2, 0.2)


@pytest.mark.parametrize("values", [np.zeros(400), np.where(np.arange(400) % 7 == 0, 0.5, 0.0)])
def test_identical_arms(values):
    result = paired_comparison(values, values.copy(), resamples=1000, wilcoxon=True)
    assert result.difference == 0
    assert result.difference_ci == (0.0, 0.0)
    assert result.p_t == 1.0
    assert result.p_randomization == 1.0
    assert result.p_wilcoxon == 1.0
    if values.any():
        assert result.relative == 0 and result.relative_ci == (0.0, 0.0)


def test_wilcoxon_only_when_asked_and_reproducible():
    treatment, control = sparse_ndcg(800, seed=14, lift=1.3)
    assert paired_comparison(treatment, control, resamples=200).p_wilcoxon is None
    result = paired_comparison(treatment, control, resamples=200, wilcoxon=True)
    assert result.p_wilcoxon == stats.wilcoxon(treatment, control).pvalue
    assert paired_comparison(treatment, control, resamples=200, wilcoxon=True) == result
    assert paired_comparison(treatment, control, resamples=200, seed=1) != result


@pytest.mark.parametrize(("treatment", "control", "options", "message"), [
    (np.ones(5), np.ones(4), {}, "same users"),
    (np.ones((2, 3)), np.ones((2, 3)), {}, "1-D"),
    (np.array([]), np.array([]), {}, "empty"),
    (np.array([0.1, np.nan]), np.array([0.1, 0.2]), {}, "NaN"),
    (np.ones(5), np.array([0.1, 0.2, np.inf, 0, 0]), {}, "NaN or infinite"),
    (np.ones(5), np.ones(5), {"confidence": 1.0}, "confidence"),
    (np.ones(5), np.ones(5), {"confidence": 0.0}, "confidence"),
    (np.ones(5), np.ones(5), {"resamples": 99}, "resamples"),
])
def test_bad_inputs(treatment, control, options, message):
    with pytest.raises(ValueError, match=message):
        paired_comparison(treatment, control, **options)


def test_bad_inputs_of_the_other_functions():
    with pytest.raises(ValueError, match="holm, bh, none"):
        adjust_p_values([0.1], "bonferroni")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjust_p_values([0.1, float("nan")], "holm")
    with pytest.raises(ValueError, match="confidence"):
        seed_interval([0.1, 0.2], confidence=1.5)
    with pytest.raises(ValueError, match="finite"):
        seed_interval([0.1, float("nan")])


def test_randomization_test_is_calibrated_and_has_power():
    # A/A: both arms Bernoulli of the same per-user propensities; the level-0.05 test rejects
    # about 5% of draws (a little less: HR's differences are discrete).
    rejected = [paired_comparison(*sparse_hr(2000, seed=seed), resamples=1000,
                                  seed=seed).p_randomization < 0.05 for seed in range(200)]
    assert 0.01 <= np.mean(rejected) <= 0.10
    # A treatment hit probability 1.5x the control's: about 200 against 300 hits.
    rejected = [paired_comparison(*sparse_hr(2000, seed=seed, lift=1.5), resamples=1000,
                                  seed=seed).p_randomization < 0.05 for seed in range(1000, 1050)]
    assert np.mean(rejected) >= 0.95
    # Far beyond every sign flip: b = 0, so p = 1 / (R + 1).
    result = paired_comparison(*sparse_hr(2000, seed=0, lift=3.0), resamples=1000)
    assert result.p_randomization == 1 / 1001
