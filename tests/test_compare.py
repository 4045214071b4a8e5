import csv
import io
import json

import pytest

from morec_core import events as ev
from morec_core.compare import compare_rows, render
from morec_core.config import RunSpec
from morec_core.store import Store


def add_run(store, run_id, study, arm, encoder, valid, test, *, seed=1, lr=1e-3, status="completed",
            cold=None):
    spec = RunSpec().with_overrides([f"encoder.name={encoder}", f"train.seed={seed}",
                                     f"train.lr={lr}"])
    store.record(ev.RunStarted(run_id=run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
                               selection_metric="ndcg@10", host="h", pid=1, device="cpu",
                               study=study, arm=arm))
    store.record(ev.Evaluated(run_id=run_id, epoch=0, split="valid",
                              metrics={"hr@10": 2 * valid, "ndcg@10": valid}))
    store.record(ev.Evaluated(run_id=run_id, epoch=0, split="test",
                              metrics={"hr@10": 2 * test, "ndcg@10": test, "users": 100}))
    if cold is not None:
        store.record(ev.Evaluated(run_id=run_id, epoch=0, split="test_cold",
                                  metrics={"hr@10": cold, "ndcg@10": cold / 2}))
    if status == "failed":
        store.record(ev.RunFailed(run_id=run_id, error="boom"))
    else:
        store.record(ev.RunFinished(run_id=run_id, status=status, best_epoch=0))


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "runs.db")
    # IDRec: the best validation run has the worse test score: selection must ignore test.
    add_run(store, "id-a", "s_id", "IDRec", "id", valid=0.10, test=0.20, lr=1e-3)
    add_run(store, "id-b", "s_id", "IDRec", "id", valid=0.12, test=0.10, lr=5e-4)
    add_run(store, "id-c", "s_id", "IDRec", "id", valid=0.50, test=0.50, lr=1e-4,
            status="collapsed")
    # MoRec, two seeds of each configuration.
    add_run(store, "mo-a1", "s_text", "Text", "text", valid=0.13, test=0.12, seed=1, lr=1e-3)
    add_run(store, "mo-a2", "s_text", "Text", "text", valid=0.13, test=0.14, seed=2, lr=1e-3,
            cold=0.05)
    add_run(store, "mo-b1", "s_text", "Text", "text", valid=0.09, test=0.30, seed=1, lr=5e-4)
    add_run(store, "mo-f", "s_text", "Text", "text", valid=0.0, test=0.0, seed=3, lr=1e-5,
            status="failed")
    return store


def test_selection_on_validation_improvement_and_outcomes(store):
    rows = {row.arm: row for row in compare_rows(store, ["s_id", "s_text"])}
    idrec, morec = rows["IDRec"], rows["Text"]
    assert idrec.best_run == "id-b" and idrec.test["ndcg@10"] == pytest.approx(0.10)
    assert idrec.outcomes == {"completed": 2, "collapsed": 1}
    assert morec.seeds == 2
    assert morec.test["ndcg@10"] == pytest.approx(0.13)
    assert morec.test_std["ndcg@10"] == pytest.approx(0.01414, abs=1e-4)
    assert morec.outcomes["failed"] == 1
    assert morec.improvement["ndcg@10"] == pytest.approx(0.3)  # (0.13 - 0.10) / 0.10
    assert idrec.improvement == {}
    assert idrec.paradigm == "IDRec" and morec.paradigm == "MoRec"


def test_cold_and_new_subsets_are_columns_of_their_own(store):
    rows = {row.arm: row for row in compare_rows(store, ["s_text"], ("test", "test_cold"))}
    assert rows["Text"].test["cold hr@10"] == pytest.approx(0.05)


@pytest.mark.parametrize("output_format", ["table", "markdown", "csv", "latex", "json"])
def test_every_format_renders_both_paradigms(store, output_format):
    text = render(compare_rows(store, ["s_id", "s_text"]), output_format)
    assert "IDRec" in text and "MoRec" in text
    if output_format == "csv":
        table = list(csv.reader(io.StringIO(text)))
        assert len(table) == 3 and "Improv. ndcg@10" in table[0]
        assert table[2][table[0].index("Improv. ndcg@10")] == "+30.00%"
    if output_format == "json":
        assert {row["arm"] for row in json.loads(text)} == {"IDRec", "Text"}
    if output_format == "table":
        assert "protocol: full ranking" not in text  # the stub runs recorded no protocol
