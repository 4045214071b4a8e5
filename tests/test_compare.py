"""`morec compare`: selection on validation, rows that compare like with like, and verdicts from
per-user results planted in a store (the statistics themselves: tests/test_stats.py)."""

import csv
import io
import json

import numpy as np
import pytest

from morec_core.config import RunSpec
from morec_core.results.compare import Settings, compare_rows
from morec_core.results.compare_format import render
from morec_core.run import events as ev
from morec_core.run.user_results import UserResults
from morec_core.store import Store

USERS = 2000


def standing(hit_probability, rng, users=USERS, k=10) -> UserResults:
    """Per-user results where each user's target is in the top k with the given probability
    (a float, or one per user), at a uniform rank there."""
    hits = rng.random(users) < hit_probability
    greater = np.where(hits, rng.integers(0, k, users), k)
    return UserResults(users=np.arange(users), greater=greater, equal=np.zeros(users, int), k=k)


def add_run(store, run_id, study, arm, encoder, valid, per_user=None, *, seed=1, lr=1e-3,
            status="completed", extra=(), test=None, per_user_valid=None,
            protocol="full ranking over all 50 items"):
    spec = RunSpec().with_overrides([f"encoder.name={encoder}", f"train.seed={seed}",
                                     f"train.lr={lr}", *extra])
    store.record(ev.RunStarted(run_id=run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
                               selection_metric="ndcg@10", host="h", pid=1, device="cpu",
                               study=study, arm=arm))
    store.record(ev.Evaluated(run_id=run_id, epoch=0, split="valid",
                              metrics={"hr@10": 2 * valid, "ndcg@10": valid},
                              per_user=per_user_valid, protocol=protocol))
    metrics = per_user.metrics(spec.eval.ties) if per_user is not None else {
        "hr@10": 2 * test, "ndcg@10": test, "users": 100}
    store.record(ev.Evaluated(run_id=run_id, epoch=0, split="test", metrics=metrics,
                              per_user=per_user, protocol=protocol))
    if status == "failed":
        store.record(ev.RunFailed(run_id=run_id, error="boom"))
    else:
        store.record(ev.RunFinished(run_id=run_id, status=status, best_epoch=0))


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "runs.db")


def by_arm(store, studies, **settings):
    return {row.arm: row for row in compare_rows(store, studies,
                                                 settings=Settings(resamples=2000, **settings))}


def test_selection_on_validation_seeds_and_outcomes(store):
    rng = np.random.default_rng(0)
    # IDRec: the best validation run has the worse test score: selection must ignore test.
    add_run(store, "id-a", "s_id", "IDRec", "id", 0.10, standing(0.30, rng), lr=1e-3)
    add_run(store, "id-b", "s_id", "IDRec", "id", 0.12, standing(0.10, rng), lr=5e-4)
    add_run(store, "id-c", "s_id", "IDRec", "id", 0.50, standing(0.5, rng), lr=1e-4,
            status="collapsed")
    # MoRec: the searched seed 1 picks lr 1e-3, though seed 2 of it is worse than lr 5e-4.
    add_run(store, "mo-a1", "s_text", "Text", "text", 0.13, standing(0.2, rng), seed=1)
    add_run(store, "mo-a2", "s_text", "Text", "text", 0.05, standing(0.2, rng), seed=2)
    add_run(store, "mo-b1", "s_text", "Text", "text", 0.11, standing(0.9, rng), seed=1, lr=5e-4)
    add_run(store, "mo-f", "s_text", "Text", "text", 0.0, test=0.0, seed=3, lr=1e-5,
            status="failed")
    rows = by_arm(store, ["s_id", "s_text"])
    idrec, morec = rows["IDRec"], rows["Text"]
    assert idrec.best_run == "id-b" and idrec.run_ids == ("id-b",)
    assert idrec.outcomes == {"completed": 2, "collapsed": 1} and idrec.configurations == 3
    assert morec.run_ids == ("mo-a1", "mo-a2") and morec.seeds == 2
    hr = [store.metrics(run, "test")["hr@10"] for run in ("mo-a1", "mo-a2")]
    assert morec.test["hr@10"] == pytest.approx(np.mean(hr))
    half = 12.706 * np.std(hr, ddof=1) / np.sqrt(2)  # t(0.975, 1 df)
    assert morec.test_ci["hr@10"] == pytest.approx((np.mean(hr) - half, np.mean(hr) + half),
                                                   rel=1e-3)
    assert idrec.test_ci == {}  # one seed: no interval
    assert morec.outcomes["failed"] == 1
    assert morec.comparisons["hr@10"].control == "s_id/IDRec"
    assert idrec.comparisons == {}


def test_a_planted_better_arm_is_better_and_an_a_a_study_is_on_par(store, tmp_path):
    rng = np.random.default_rng(1)
    propensity = rng.beta(1, 6, USERS)  # users differ in how easy they are (HR ~ 14%)
    for seed in (1, 2, 3):
        add_run(store, f"id{seed}", "s", "IDRec", "id", 0.1, standing(propensity, rng), seed=seed)
        add_run(store, f"mo{seed}", "s", "Text", "text", 0.1,
                standing(np.minimum(1.5 * propensity, 1), rng), seed=seed)
    morec = by_arm(store, ["s"])["Text"]
    assert morec.seeds == 3
    assert {c.verdict for c in morec.comparisons.values()} == {"MoRec better"}
    hr = morec.comparisons["hr@10"]
    assert hr.difference_ci[0] > 0 and hr.relative_ci[0] > 0 and hr.p_adjusted < 0.05
    assert hr.users == USERS

    on_par = 0
    for trial in range(20):
        aa = Store(tmp_path / f"aa{trial}.db")
        rng = np.random.default_rng(100 + trial)
        propensity = rng.beta(1, 6, USERS)
        for seed in (1, 2, 3):
            add_run(aa, f"id{seed}", "s", "IDRec", "id", 0.1, standing(propensity, rng),
                    seed=seed)
            add_run(aa, f"mo{seed}", "s", "Text", "text", 0.1, standing(propensity, rng),
                    seed=seed)
        verdicts = {c.verdict for c in by_arm(aa, ["s"])["Text"].comparisons.values()}
        on_par += verdicts == {"on par"}
        aa.close()
    assert on_par >= 19


def test_rows_never_mix_datasets_or_backbones(store):
    """Issue 11's case: an IDRec SASRec run on demo, an IDRec DSSM run on demo and an IDRec
    SASRec run on the warm-20 view, all in one study without arm names."""
    rng = np.random.default_rng(2)
    add_run(store, "sas", "s", "", "id", 0.2, standing(0.2, rng))
    add_run(store, "dssm", "s", "", "id", 0.1, standing(0.1, rng), extra=("backbone.name=dssm",))
    add_run(store, "warm", "s", "", "id", 0.3, standing(0.3, rng, users=500),
            extra=("data.warm_min_item_interactions=20",))
    rows = compare_rows(store, ["s"], settings=Settings(resamples=500))
    assert sorted((row.dataset, row.backbone, row.best_run) for row in rows) == [
        ("demo (text)", "dssm", "dssm"), ("demo (text)", "sasrec", "sas"),
        ("demo (text, warm-20)", "sasrec", "warm")]
    assert all(row.trials == 1 for row in rows)


def test_the_verdict_per_loss_and_a_morec_arm_without_idrec(store):
    rng = np.random.default_rng(3)
    for loss, gain in (("bce", 2.0), ("softmax", 1.0)):
        add_run(store, f"id-{loss}", "s", "IDRec", "id", 0.1, standing(0.1, rng),
                extra=(f"train.loss={loss}",))
        add_run(store, f"mo-{loss}", "s", "Text", "text", 0.1, standing(0.1 * gain, rng),
                extra=(f"train.loss={loss}",))
    add_run(store, "mo-dssm", "s", "Text", "text", 0.1, standing(0.1, rng),
            extra=("backbone.name=dssm",))
    rows = compare_rows(store, ["s"], settings=Settings(resamples=2000, by=("train.loss",)))
    verdicts = {(row.loss, row.backbone): row.comparisons["hr@10"].verdict
                for row in rows if row.comparisons}
    assert verdicts == {("bce", "sasrec"): "MoRec better", ("softmax", "sasrec"): "on par"}
    [alone] = [row for row in rows if row.backbone == "dssm" and row.paradigm == "MoRec"]
    assert alone.verdict_note.startswith("no verdict: no IDRec arm with the same dataset")
    text = render(rows, "table", Settings(by=("train.loss",)))
    assert "no verdict: no IDRec arm" in text and "MoRec better" in text


def test_different_protocols_are_refused_and_old_runs_ask_for_recompute(store):
    rng = np.random.default_rng(4)
    add_run(store, "id", "s", "IDRec", "id", 0.1, standing(0.1, rng))
    add_run(store, "mo", "s", "Text", "text", 0.1, standing(0.1, rng),
            extra=("eval.ties=optimistic",))
    [morec] = [row for row in compare_rows(store, ["s"]) if row.paradigm == "MoRec"]
    assert morec.comparisons == {}
    assert "protocols differ (ties optimistic vs expected)" in morec.verdict_note

    other = Store(store.url.removeprefix("sqlite:///") + ".items.db")
    add_run(other, "id", "s", "IDRec", "id", 0.1, standing(0.1, rng))
    add_run(other, "mo", "s", "Text", "text", 0.1, standing(0.1, rng),
            protocol="full ranking over all 60 items")  # another catalogue, same settings
    [morec] = [row for row in compare_rows(other, ["s"]) if row.paradigm == "MoRec"]
    assert morec.comparisons == {} and "60 items" in morec.verdict_note

    old = Store(store.url.removeprefix("sqlite:///") + ".old.db")
    add_run(old, "id", "s", "IDRec", "id", 0.1, test=0.1)  # recorded without per-user results
    add_run(old, "mo", "s", "Text", "text", 0.1, standing(0.1, rng))
    [morec] = [row for row in compare_rows(old, ["s"]) if row.paradigm == "MoRec"]
    assert "re-run `morec compare --recompute`" in morec.verdict_note
    assert "--recompute" in render(compare_rows(old, ["s"]), "table")


def test_holm_is_applied_across_the_whole_table(store):
    rng = np.random.default_rng(5)
    add_run(store, "id", "s", "IDRec", "id", 0.1, standing(0.10, rng))
    add_run(store, "mo", "s", "Text", "text", 0.1, standing(0.13, rng))
    rows = compare_rows(store, ["s"], settings=Settings(resamples=2000, correction="none"))
    raw = {m: c.p_randomization for m, c in rows[1].comparisons.items()}
    assert {m: c.p_adjusted for m, c in rows[1].comparisons.items()} == raw
    held = compare_rows(store, ["s"], settings=Settings(resamples=2000))
    low, high = sorted(raw.values())
    assert sorted(c.p_adjusted for c in held[1].comparisons.values()) == pytest.approx(
        [min(1, 2 * low), min(1, max(2 * low, high))])


@pytest.mark.parametrize("output_format", ["table", "markdown", "csv", "latex", "json"])
def test_every_format_carries_intervals_and_verdicts(store, output_format):
    rng = np.random.default_rng(6)
    add_run(store, "id", "s", "IDRec", "id", 0.1, standing(0.1, rng))
    add_run(store, "mo", "s", "Text", "text", 0.1, standing(0.2, rng))
    rows = compare_rows(store, ["s"], settings=Settings(resamples=500))
    text = render(rows, output_format)
    assert "IDRec" in text and "MoRec better" in text
    if output_format == "csv":
        table = list(csv.reader(io.StringIO(text)))
        assert len(table) == 3
        morec = dict(zip(table[0], table[2], strict=True))
        assert morec["verdict hr@10"] == "MoRec better"
        assert float(morec["Δ hr@10 ci low"]) > 0 and morec["IDRec"] == "s/IDRec"
    if output_format == "json":
        data = json.loads(text)
        [morec] = [row for row in data["rows"] if row["paradigm"] == "MoRec"]
        assert morec["comparisons"]["hr@10"]["verdict"] == "MoRec better"
        assert len(morec["comparisons"]["hr@10"]["difference_ci"]) == 2
    if output_format in ("table", "markdown"):
        assert "n/a (1 seed)" in text  # and the note that says why
        assert "one seed gives no interval" in text


def test_seed_intervals_stay_within_the_metric_range(store):
    rng = np.random.default_rng(7)
    # Two seeds far apart: the t-interval (12.7 standard errors) would pass 0 and 100%.
    add_run(store, "id1", "s", "IDRec", "id", 0.1, standing(0.05, rng), seed=1)
    add_run(store, "id2", "s", "IDRec", "id", 0.1, standing(0.95, rng), seed=2)
    [row] = compare_rows(store, ["s"], settings=Settings(resamples=500))
    low, high = row.test_ci["hr@10"]
    assert (low, high) == (0.0, 1.0)


def test_the_cost_of_an_arm_is_the_mean_over_its_selected_runs(store):
    """Cost per arm (trainable parameters, s/epoch, peak memory) in every format, from the
    selected configuration's runs only."""
    rng = np.random.default_rng(3)
    add_run(store, "id-1", "s", "IDRec", "id", 0.2, standing(0.2, rng), seed=1)
    add_run(store, "id-2", "s", "IDRec", "id", 0.2, standing(0.2, rng), seed=2)
    add_run(store, "id-x", "s", "IDRec", "id", 0.1, standing(0.2, rng), seed=1, lr=1e-4)
    for run_id, seconds, memory in (("id-1", 2.0, 1000 * 2**20), ("id-2", 4.0, 1010 * 2**20),
                                    ("id-x", 100.0, 2**40)):
        store.record(ev.CostMeasured(run_id=run_id, trainable_params=1_500_000,
                                     total_params=1_500_000, flops_per_sample=None,
                                     seconds_per_epoch=seconds, peak_memory_bytes=memory))
    row = by_arm(store, ["s"])["IDRec"]
    assert row.cost == {"trainable_params": 1_500_000, "seconds_per_epoch": 3.0,
                        "peak_memory_bytes": 1005 * 2**20}
    table = render([row], "table")
    assert "1.5M" in table and "3.0 s" in table and "1005.0 MiB" in table
    line = next(csv.DictReader(io.StringIO(render([row], "csv"))))
    assert float(line["seconds_per_epoch"]) == 3.0


def test_an_unbounded_relative_interval_is_said_so():
    """Resamples of users where IDRec's mean is 0 make the relative interval unbounded: the
    cell says so instead of printing nan."""
    from morec_core.results.compare import Comparison
    from morec_core.results.compare_format import relative_cell as compare_cell
    from morec_core.results.report_render import relative_cell as report_cell

    comparison = Comparison(metric="hr@10", control="s/IDRec", users=10, difference=0.01,
                            difference_ci=(0.0, 0.02), relative=0.5,
                            relative_ci=(-1.0, float("nan")), p_t=0.5, p_randomization=0.5,
                            p_wilcoxon=None, p_adjusted=0.5, verdict="on par")
    assert compare_cell(comparison) == "+50.0% [unbounded]"
    assert report_cell(comparison) == "+50.0% [unbounded]"
