"""Accuracy against cost (the Pareto front, each MoRec arm's cost as a multiple of IDRec's for
its Δ) and the report's planned-against-measured cost, on runs planted in a store."""

from __future__ import annotations

import pytest

from morec_core.config import RunSpec
from morec_core.results.compare import Settings, compare_rows
from morec_core.results.report import build_report
from morec_core.results.report_render import blocks_of, to_markdown
from morec_core.results.tradeoff import cost_sentences, pareto_flags, tradeoffs
from morec_core.store import Store
from morec_core.study.plan import Plan, PlanRow, cost_key
from morec_core.study.studies import Arm, Study
from tests.test_audit import plant
from tests.test_plan import measurement


def test_the_pareto_front_keeps_what_nothing_beats_for_less():
    # (cost, accuracy): b is dearer and worse than a; d costs as much as c for less.
    points = [(1.0, 0.20), (2.0, 0.18), (3.0, 0.25), (3.0, 0.24), (10.0, 0.30)]
    assert pareto_flags(points) == [True, False, True, False, True]
    assert pareto_flags([(1.0, 0.2), (1.0, 0.2)]) == [True, True]  # equal: neither dominates


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "runs.db")
    # IDRec: 1 s an epoch; E2E: 10 s and more accurate; TS: 2 s and less accurate than IDRec.
    plant(store, "id", "s", "IDRec", "id", 0.1, hit=0.20, seconds=1.0)
    plant(store, "e2e", "s", "E2E", "text", 0.1, hit=0.30, seconds=10.0)
    plant(store, "ts", "s", "TS", "text", 0.1, hit=0.10, seconds=2.0,
          extra=("encoder.mode=two_stage",))
    return store


def test_accuracy_against_cost_marks_the_front_and_prices_each_morec_arm(store):
    rows = compare_rows(store, ["s"], settings=Settings(resamples=500))
    [(group, points)] = tradeoffs(rows).items()
    assert group == ("demo (text)", "sasrec", "bce")
    assert [(point.label, point.pareto) for point in points] == [
        ("s/IDRec", True), ("s/TS", False), ("s/E2E", True)]
    assert points[0].device_hours == pytest.approx(1 / 3600)
    sentences = {line.split(":")[0]: line for line in cost_sentences(rows)}
    e2e = next(row for row in rows if row.arm == "E2E").comparisons["hr@10"]
    low, high = e2e.difference_ci
    assert sentences["s/E2E"] == (
        f"s/E2E: 10x IDRec's s/epoch (10x its training device-hours) for Δ HR@10 +10.00 pp "
        f"[{100 * low:+.2f}, {100 * high:+.2f}] against s/IDRec (MoRec better)")
    assert sentences["s/TS"].startswith("s/TS: 2x IDRec's s/epoch")


def test_the_report_sets_the_plan_beside_the_measured_cost(store):
    study = Study(name="s", description="", arms=(
        Arm(name="IDRec", overrides=("encoder.name=id",)),
        Arm(name="E2E", overrides=("encoder.name=text",))))
    spec = RunSpec().with_overrides(["encoder.name=id", "train.lr=0.001", "train.seed=42"])
    plan = Plan(study="s", workers=1, worker_kind="local workers", store="x", notes=(), rows=(
        PlanRow(arm="IDRec", variant="", cost_key=cost_key(spec), measurement=measurement(0.5),
                search_trials=1, seed_trials=0, epochs_upper=50, epochs_expected=None),))
    report = build_report(store, ["s"], [study], settings=Settings(resamples=200),
                          plans={"s": plan})
    assert set(report.planned) == {"s/IDRec"}
    markdown = to_markdown(blocks_of(report, {}))
    cost_line = next(line for line in markdown.splitlines()
                     if line.startswith("| demo (text) | s/IDRec | IDRec"))
    assert "| 0.5 s (cpu, fp32) | 2.00x |" in cost_line  # measured 1 s against 0.5 s planned
    assert "## Accuracy against cost" in markdown and "| front |" in markdown
    assert "s/E2E: 10x IDRec's s/epoch" in markdown
    assert "## Tuning audit" in markdown
    assert "data fingerprint ssssssss (400 users, 50 items, 4,000 interactions)" in markdown
