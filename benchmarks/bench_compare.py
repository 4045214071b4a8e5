"""Cost of verdicts: per-user storage and `morec compare`'s statistics at 50,000 users x 10 runs.

Builds a SQLite store of one study with three arms (IDRec: two searched configurations and the
winner on two more seeds; two MoRec arms on three seeds each: 10 runs), each run with per-user
results of its validation and test splits, then times `compare_rows` + `render` against the
same store's runs recorded without per-user results (the table of means only, as before
verdicts), side by side in one process. Target: compare under 2 s.

    python benchmarks/bench_compare.py [--users 50000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from morec_core.config import RunSpec
from morec_core.results.compare import compare_rows
from morec_core.results.compare_format import render
from morec_core.run import events as ev
from morec_core.run.user_results import UserResults
from morec_core.store import Store

RUNS = [  # (arm, encoder, lr, seed, hit probability multiplier)
    ("IDRec", "id", 1e-3, 42, 1.0), ("IDRec", "id", 5e-4, 42, 0.9),
    ("IDRec", "id", 1e-3, 43, 1.0), ("IDRec", "id", 1e-3, 44, 1.0),
    ("Text E2E", "text", 1e-4, 42, 1.2), ("Text E2E", "text", 1e-4, 43, 1.2),
    ("Text E2E", "text", 1e-4, 44, 1.2),
    ("Text TS", "text", 1e-3, 42, 1.0), ("Text TS", "text", 1e-3, 43, 1.0),
    ("Text TS", "text", 1e-3, 44, 1.0),
]


def standing(users: int, propensity: np.ndarray, rng: np.random.Generator) -> UserResults:
    hits = rng.random(users) < propensity
    greater = np.where(hits, rng.integers(0, 10, users), 10)
    equal = np.where(hits & (rng.random(users) < 0.002), 1, 0)
    return UserResults(users=np.arange(users), greater=greater, equal=equal, k=10)


def fill(store: Store, users: int, per_user: bool) -> None:
    rng = np.random.default_rng(0)
    propensity = rng.beta(1, 10, users)  # HR@10 about 9%, as on microlens-50k
    for index, (arm, encoder, lr, seed, gain) in enumerate(RUNS):
        extra = ["encoder.model=minilm-l6"] if encoder == "text" else []
        spec = RunSpec().with_overrides([f"encoder.name={encoder}", f"train.lr={lr}",
                                         f"train.seed={seed}", *extra])
        run_id = f"run{index:02d}"
        store.record(ev.RunStarted(run_id=run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
                                   selection_metric="ndcg@10", host="h", pid=1, device="cpu",
                                   study="bench", arm=arm))
        for split in ("valid", "test"):
            results = standing(users, np.minimum(gain * propensity, 1), rng)
            store.record(ev.Evaluated(run_id=run_id, epoch=0, split=split,
                                      metrics=results.metrics("expected"),
                                      per_user=results if per_user else None,
                                      protocol="full ranking over all 20000 items"))
        store.record(ev.RunFinished(run_id=run_id, status="completed", best_epoch=0))


def timed(store: Store, repeats: int) -> tuple[float, str]:
    best, text = float("inf"), ""
    for _ in range(repeats):
        started = time.perf_counter()
        text = render(compare_rows(store, ["bench"]), "table")
        best = min(best, time.perf_counter() - started)
    return best, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sizes = {}
        stores = {}
        for per_user in (False, True):
            path = Path(folder) / f"store-{per_user}.db"
            stores[per_user] = Store(path)
            fill(stores[per_user], args.users, per_user)
            stores[per_user].close()
            sizes[per_user] = os.path.getsize(path) + sum(
                os.path.getsize(extra) for extra in Path(folder).glob(f"{path.name}-*"))
            stores[per_user] = Store(path)
        blob = len(standing(args.users, np.full(args.users, 0.09),
                            np.random.default_rng(1)).to_bytes())
        without, _ = timed(stores[False], args.repeats)
        with_verdicts, text = timed(stores[True], args.repeats)
    per_run = (sizes[True] - sizes[False]) / len(RUNS)
    print(f"users {args.users:,}, runs {len(RUNS)}, best of {args.repeats}")
    print(f"per-user results: {blob / 1e3:.0f} KB per split, {per_run / 1e3:.0f} KB per run "
          "(validation + test, on disk)")
    print(f"compare, means only (no per-user results): {without:.3f} s")
    print(f"compare with verdicts (CIs, t, randomization, Holm): {with_verdicts:.3f} s "
          f"= {with_verdicts / without:.1f}x; target < 2 s: "
          f"{'met' if with_verdicts < 2 else 'NOT met'}")
    print()
    print(text)


if __name__ == "__main__":
    main()
