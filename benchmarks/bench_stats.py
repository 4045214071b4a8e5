"""Paired comparison statistics: `morec_core.results.stats.paired_comparison` against a naive full-size
bootstrap and sign-flip randomization test.

    .venv/bin/python benchmarks/bench_stats.py [--users 50000] [--resamples 10000] [--repeats 5]

Synthetic per-user metrics with the sparsity of leave-one-out HR@10 / NDCG@10 (about 8% of users
nonzero in either arm), three kinds of values:

  hr        HR@10 of one seed, 0 or 1;
  ndcg-3    NDCG@10 pooled (averaged) over 3 seeds, 1 / log2(rank + 1) per seed: many distinct
            pairs of values;
  uniform   nonzero values uniform in (0, 1]: every user distinct, the worst case for grouping.

Printed: the median (and best) seconds of paired_comparison (bootstrap, randomization test and
t-test) at --users, and of the naive version (U x R index draws, U x R signs) on --naive-users
users, with its time scaled linearly to --users and the ratio. Target: under 0.15 s at 50,000
users and 10,000 resamples on one core. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from morec_core.results.stats import paired_comparison


def sparse_metrics(kind: str, users: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(U,) treatment and control values, about 8% of users nonzero in either arm."""
    rng = np.random.default_rng(seed)
    propensity = rng.beta(0.3, 6.0, size=users)  # (U,) shared by both arms: paired users
    seeds = 3 if kind == "ndcg-3" else 1
    hit_rate = 0.045 if seeds == 1 else 0.016

    def arm(lift: float) -> np.ndarray:
        chance = np.minimum(1.0, propensity * hit_rate / propensity.mean() * lift)
        hits = rng.random((seeds, users)) < chance  # (S, U)
        if kind == "hr":
            values = hits.astype(np.float64)
        elif kind == "ndcg-3":
            values = hits / np.log2(rng.integers(1, 11, size=(seeds, users)) + 1.0)
        else:
            values = hits * (1.0 - rng.random((seeds, users)))
        return values.mean(axis=0)

    return arm(1.1), arm(1.0)


def naive(treatment: np.ndarray, control: np.ndarray, resamples: int, seed: int = 0) -> float:
    """Full-size paired bootstrap (R x U index draws) and sign-flip test (R x U signs), in chunks
    of replicates; returns the randomization p-value (the CI is computed and discarded)."""
    rng = np.random.default_rng(seed)
    differences = treatment - control
    users = differences.size
    chunk = max(1, (1 << 20) // users)
    means = []
    extreme = 0
    observed = abs(differences.mean())
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        indices = rng.integers(0, users, size=(rows, users))
        means.append(differences[indices].mean(axis=1))
        signs = rng.integers(0, 2, size=(rows, users)) * 2 - 1
        extreme += int(np.count_nonzero(np.abs((signs * differences).mean(axis=1)) >= observed))
    np.quantile(np.concatenate(means), [0.025, 0.975])
    return (extreme + 1) / (resamples + 1)


def seconds(action, repeats: int) -> tuple[float, float]:
    """Median and best of `repeats` runs (a shared VM's timings vary by 1.5x run to run)."""
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), min(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--naive-users", type=int, default=5_000)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    print(f"U = {arguments.users:,}, R = {arguments.resamples:,}; naive on "
          f"U = {arguments.naive_users:,}, scaled linearly to U = {arguments.users:,}")
    for kind in ("hr", "ndcg-3", "uniform"):
        treatment, control = sparse_metrics(kind, arguments.users)
        active = float(np.mean((treatment != 0) | (control != 0)))
        pairs = len(np.unique(np.stack([treatment, control], 1)[(treatment != 0) | (control != 0)],
                              axis=0))
        paired_comparison(treatment, control, resamples=arguments.resamples)  # warm-up
        fast, best = seconds(
            lambda t=treatment, c=control: paired_comparison(t, c,
                                                             resamples=arguments.resamples),
            arguments.repeats)
        small = sparse_metrics(kind, arguments.naive_users)
        slow, _ = seconds(lambda small=small: naive(*small, arguments.resamples), 1)
        scaled = slow * arguments.users / arguments.naive_users
        print(f"{kind:8s} nonzero {active:5.1%}, distinct nonzero pairs {pairs:5d}: "
              f"paired_comparison {fast:.3f} s (best {best:.3f}); naive {slow:.2f} s at "
              f"U = {arguments.naive_users:,} -> ~{scaled:.1f} s, {scaled / fast:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
