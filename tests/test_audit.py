"""The tuning audit, the best-configuration cards, data fingerprints in `morec compare`, and
published rows, on runs planted in a store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from morec_core.config import RunSpec
from morec_core.data.fingerprint import DataFingerprint
from morec_core.results.audit import BUDGET_RATIO, audit_rows
from morec_core.results.compare import Settings, compare_rows
from morec_core.results.compare_format import render
from morec_core.results.published import label_rows, read_published
from morec_core.run import events as ev
from morec_core.run.user_results import UserResults
from morec_core.store import Store
from morec_core.study.studies import Arm, Study
from morec_tui.cli import app

FIXTURES = Path(__file__).parent / "fixtures"
USERS = 400


def fingerprint(users=USERS, sequences="s", digest=None) -> str:
    parts = {"users": "u", "items": "i", "sequences": sequences, "split targets": "t",
             "item content": "c"}
    return DataFingerprint(digest=digest or sequences * 16, parts=parts, users=users,
                           items=50, interactions=users * 10, modality="text",
                           dataset="shop").to_json()


def plant(store, run_id, study, arm, encoder, valid, *, lr=1e-3, seed=42, hit=0.2,
          seconds=10.0, data=None, extra=()):
    """A completed run: its spec, an epoch of `seconds`, validation `valid` (NDCG@10) and test
    per-user results where each user hits the top 10 with probability `hit`."""
    spec = RunSpec().with_overrides([f"encoder.name={encoder}", f"train.lr={lr}",
                                     f"train.seed={seed}", *extra])
    store.record(ev.RunStarted(run_id=run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
                               selection_metric="ndcg@10", host="h", pid=1, device="cpu",
                               study=study, arm=arm,
                               data_fingerprint=fingerprint() if data is None else data))
    store.record(ev.EpochEnded(run_id=run_id, epoch=0, loss=1.0, seconds=seconds,
                               learning_rates={}))
    store.record(ev.Evaluated(run_id=run_id, epoch=0, split="valid",
                              metrics={"hr@10": 2 * valid, "ndcg@10": valid}))
    hits = np.arange(USERS) < hit * USERS  # HR@10 is exactly `hit`
    per_user = UserResults(users=np.arange(USERS), greater=np.where(hits, 0, 10),
                           equal=np.zeros(USERS, int), k=10)
    store.record(ev.Evaluated(run_id=run_id, epoch=0, split="test",
                              metrics=per_user.metrics("expected"), per_user=per_user))
    store.record(ev.CostMeasured(run_id=run_id, trainable_params=1000, total_params=1000,
                                 seconds_per_epoch=seconds, peak_memory_bytes=2**20))
    store.record(ev.RunFinished(run_id=run_id, status="completed", best_epoch=0))


LRS = (1e-4, 5e-4, 1e-3)


def lr_study(name: str) -> Study:
    return Study(name=name, description="", arms=(Arm(name="IDRec",
                                                      overrides=("encoder.name=id",),
                                                      grid={"train.lr": LRS}),))


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "runs.db")


def audit_of(store, studies, definitions=None):
    rows = compare_rows(store, studies, settings=Settings(resamples=200))
    runs = {run.id: run for study in studies for run in store.runs(study=study)}
    return rows, {audit.label: audit for audit in audit_rows(rows, runs, definitions or {})}


@pytest.mark.parametrize("from_definition", [True, False])
def test_the_grid_edge_warning_fires_on_the_largest_lr_and_not_inside(store, from_definition):
    # "edge": validation grows with the learning rate, so the largest one (1e-3) wins.
    for index, lr in enumerate(LRS):
        plant(store, f"edge-{index}", "edge", "IDRec", "id", 0.1 + 0.01 * index, lr=lr)
        plant(store, f"inside-{index}", "inside", "IDRec", "id", (0.10, 0.12, 0.11)[index],
              lr=lr)
    definitions = ({name: lr_study(name) for name in ("edge", "inside")} if from_definition
                   else {})
    _, audits = audit_of(store, ["edge", "inside"], definitions)
    edge, inside = audits["edge/IDRec"], audits["inside/IDRec"]
    assert edge.chosen == {"train.lr": 1e-3} and inside.chosen == {"train.lr": 5e-4}
    assert edge.warnings == ("best train.lr is the grid's largest value (0.001 of 0.0001, "
                             "0.0005, 0.001): the optimum may lie beyond it",)
    assert inside.warnings == ()
    assert edge.grid_size == 3 and edge.trials == 3
    assert edge.grid_from == ("study definition" if from_definition else "runs")
    assert edge.device_hours == pytest.approx(30 / 3600)


def test_unequal_budgets_are_warned_beyond_the_ratio_and_not_within(store):
    # IDRec searched 4 learning rates, MoRec 2: 2x, above 1.5x. MoRec B searched 3: 1.33x.
    for index, lr in enumerate((1e-4, 2e-4, 5e-4, 1e-3)):
        plant(store, f"id-{index}", "s", "IDRec", "id", 0.1 + 0.001 * index, lr=lr, seconds=1.0)
    for index, lr in enumerate((2e-4, 5e-4)):
        plant(store, f"a-{index}", "s", "A", "text", 0.1, lr=lr, seconds=100.0)
    for index, lr in enumerate((1e-4, 2e-4, 5e-4)):
        plant(store, f"b-{index}", "s", "B", "text", 0.1, lr=lr, seconds=1.0)
    rows, audits = audit_of(store, ["s"])
    a_warnings = " | ".join(audits["s/A"].warnings)
    assert ("unequal budgets: s/A searched 2 configurations, s/IDRec 4 configurations "
            f"(2.0x, above {BUDGET_RATIO:g}x)") in a_warnings
    # 200 s of training against IDRec's 4 s.
    assert "unequal budgets: s/A spent 0.0556 device-hours, s/IDRec 0.00111" in a_warnings
    assert not any("unequal budgets" in warning for warning in audits["s/B"].warnings)
    text = render(rows, "table", Settings(resamples=200), audits=list(audits.values()))
    assert "Tuning audit (per arm):" in text
    assert "audit: s/A: unequal budgets: s/A searched 2 configurations" in text


def test_compare_refuses_to_pair_arms_whose_data_differ_and_names_what(store):
    plant(store, "id", "s", "IDRec", "id", 0.1)
    plant(store, "same", "same", "Text", "text", 0.1)
    plant(store, "other", "other", "Text", "text", 0.1, data=fingerprint(sequences="z"))
    plant(store, "old", "old", "Text", "text", 0.1, data="")  # recorded before fingerprints
    rows = {row.study: row for row in compare_rows(store, ["s", "same", "other", "old"],
                                                   settings=Settings(resamples=200))}
    assert rows["same"].comparisons and rows["old"].comparisons
    assert rows["other"].comparisons == {}
    assert rows["other"].verdict_note == ("not compared with s/IDRec: data fingerprints differ "
                                          "(sequences)")
    text = render(list(rows.values()), "table", Settings(resamples=200))
    assert "old/Text: no fingerprint (none of its runs recorded one: runs of an older morec" in text
    assert "s/IDRec: data fingerprint ssssssss (400 users, 50 items, 4,000 interactions)" in text


def test_one_fingerprint_is_said_once_on_the_protocol_line(store):
    plant(store, "id", "s", "IDRec", "id", 0.1)
    plant(store, "text", "s", "Text", "text", 0.1)
    rows = compare_rows(store, ["s"], settings=Settings(resamples=200))
    protocol = [line for line in render(rows, "table").splitlines()
                if line.startswith("protocol:")]
    assert protocol == ["protocol: full-ranking, history masked; data fingerprint ssssssss "
                        "(400 users, 50 items, 4,000 interactions)"]
    exported = json.loads(render(rows, "json"))
    assert exported["rows"][0]["fingerprint"]["parts"]["sequences"] == "s"


def test_an_arm_whose_runs_all_collapsed_still_names_its_data(store):
    """Its runs trained on data like any other: the fingerprint they recorded is shown, not
    "recorded before data fingerprints" (what a study on data with no signal once said)."""
    plant(store, "id", "s", "IDRec", "id", 0.1)
    spec = RunSpec().with_overrides(["encoder.name=text"])
    store.record(ev.RunStarted(run_id="gone", spec=spec.to_dict(), spec_key=spec.spec_key,
                               selection_metric="ndcg@10", host="h", pid=1, device="cpu",
                               study="s", arm="Text",
                               data_fingerprint=fingerprint(sequences="z")))
    store.record(ev.RunFinished(run_id="gone", status="collapsed", best_epoch=None,
                                reason="never rose above 2x random ranking"))
    rows = {row.label: row for row in compare_rows(store, ["s"],
                                                   settings=Settings(resamples=200))}
    assert rows["s/Text"].seeds == 0 and rows["s/Text"].data is not None
    text = render(list(rows.values()), "table", Settings(resamples=200))
    assert "s/Text: data fingerprint zzzzzzzz" in text and "no fingerprint" not in text
    # Its tuning audit chose nothing: said so, not "lr None".
    rows_list, audits = audit_of(store, ["s"])
    (line,) = [line for line in render(rows_list, "table", Settings(resamples=200),
                                       audits=list(audits.values())).splitlines()
               if line.startswith("s/Text ")]
    assert line.endswith("none: no completed run") and "None" not in line


def test_published_rows_label_each_arm(store):
    plant(store, "id", "s", "IDRec", "id", 0.1, hit=0.20)
    plant(store, "text", "s", "Text", "text", 0.1, hit=0.20)
    plant(store, "dssm", "d", "IDRec", "id", 0.1, hit=0.20, extra=("backbone.name=dssm",))
    rows = compare_rows(store, ["s", "d"], settings=Settings(resamples=200))
    assert {row.label: round(100 * row.test["hr@10"], 6) for row in rows} == {
        "s/IDRec": 20.0, "s/Text": 20.0, "d/IDRec": 20.0}
    for fixture in ("published.toml", "published.csv"):
        labels = label_rows(rows, read_published(FIXTURES / fixture))
        found = {(label.arm, label.published.source): label.label for label in labels}
        assert found == {
            ("s/IDRec", "paper A"): "replicated (-2.4%, within ±5%)",
            ("s/IDRec", "paper B"): "above (+11.1%, beyond ±5%)",
            ("s/Text", "paper A"): "below (-13.0%, beyond ±5%)",
            ("s/Text", "paper C"): "not comparable: counts (users 50,000 vs 400)",
            ("s/Text", "paper D"): "not comparable: protocol (ties optimistic vs expected)",
            # Paper E gives backbone sasrec: the DSSM arm of study d is not labelled by it.
            ("s/IDRec", "paper E"): "replicated (+0.0%, within ±5%)",
            ("s/IDRec", "paper F"): "not comparable: data fingerprint ffffffff vs ssssssss",
            ("d/IDRec", "paper A"): "replicated (-2.4%, within ±5%)",
            ("d/IDRec", "paper B"): "above (+11.1%, beyond ±5%)",
            ("d/IDRec", "paper F"): "not comparable: data fingerprint ffffffff vs ssssssss",
        }


def test_a_published_dataset_names_the_folder_or_the_reader_and_a_warm_view(store, tmp_path):
    """The paper's "MIND" is the regular view of a mind folder, "MIND/warm-20" its warm-20 view."""
    data = ("data.source=mind", "data.path=/raw/mind-small/MINDsmall_train")
    plant(store, "regular", "s", "IDRec", "id", 0.1, extra=data)
    plant(store, "warm", "w", "IDRec", "id", 0.1,
          extra=(*data, "data.warm_min_item_interactions=20"))
    rows = compare_rows(store, ["s", "w"], settings=Settings(resamples=200))
    path = tmp_path / "rows.toml"
    path.write_text("[defaults]\narm = 'IDRec'\nmetric = 'hr@10'\nvalue = 20.0\n"
                    "fingerprint = 'ssssssss'\n"
                    "[[row]]\nsource = 'regular'\ndataset = 'MIND'\n"
                    "[[row]]\nsource = 'by folder'\ndataset = 'MINDsmall_train'\n"
                    "[[row]]\nsource = 'warm'\ndataset = 'MIND/warm-20'\n")
    found = {(label.arm, label.published.source) for label in
             label_rows(rows, read_published(path))}
    assert found == {("s/IDRec", "regular"), ("s/IDRec", "by folder"), ("w/IDRec", "warm")}


def test_compare_writes_cards_and_labels_published_rows_from_the_command_line(
        store, tmp_path, monkeypatch):
    for index, lr in enumerate(LRS):
        plant(store, f"id-{index}", "s", "IDRec", "id", 0.1 + 0.01 * index, lr=lr)
    plant(store, "text", "s", "Text", "text", 0.1)
    monkeypatch.setenv("MOREC_STUDIES_DIR", str(tmp_path / "no-studies"))
    cards = tmp_path / "cards"
    result = CliRunner().invoke(app, ["compare", "--study", "s", "--storage",
                                      str(tmp_path / "runs.db"), "--card", str(cards),
                                      "--published", str(FIXTURES / "published.toml")])
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in cards.iterdir()) == [
        "s_IDRec.json", "s_IDRec.md", "s_Text.json", "s_Text.md"]
    card = json.loads((cards / "s_IDRec.json").read_text())
    assert card["chosen"] == {"train.lr": 1e-3} and card["grid"] == {"train.lr": list(LRS)}
    assert card["budget"]["trials"] == 3 and card["data_fingerprint"]["users"] == USERS
    assert card["audit_warnings"] == ["best train.lr is the grid's largest value (0.001 of "
                                      "0.0001, 0.0005, 0.001): the optimum may lie beyond it"]
    markdown = (cards / "s_IDRec.md").read_text()
    assert "| train.lr | 0.001 | 0.0001, 0.0005, 0.001 |" in markdown
    assert "- fingerprint ssssssssssssssss (shop, item content: text)" in markdown
    assert "Published numbers:" in result.output and "replicated (" in result.output


@pytest.mark.parametrize(("content", "message"), [
    ("[[row]]\nsource = 'x'\ndataset = 'd'\narm = 'a'\nmetric = 'hr@10'\n",
     "row 1: missing field 'value'"),
    ("[[row]]\nsource = 'x'\ndataset = 'd'\narm = 'a'\nmetric = 'recall'\nvalue = 1\n",
     "metric 'recall': expected hr@K or ndcg@K"),
    ("[[row]]\nsource = 'x'\ndataset = 'd'\narm = 'a'\nmetric = 'hr@10'\nvalue = 1\nvlaue = 2\n",
     "unknown field 'vlaue'"),
    ("[[row]]\nsource = 'x'\ndataset = 'd'\narm = 'a'\nmetric = 'hr@10'\nvalue = 1\n"
     "protocol = 'k:10'\n", "protocol 'k:10': expected key=value"),
    ("[[row]\n", "not TOML"),
])
def test_a_bad_published_file_is_one_line_naming_the_row(tmp_path, content, message):
    path = tmp_path / "rows.toml"
    path.write_text(content)
    store = Store(tmp_path / "runs.db")
    plant(store, "id", "s", "IDRec", "id", 0.1)
    result = CliRunner().invoke(app, ["compare", "--study", "s", "--storage",
                                      str(tmp_path / "runs.db"), "--published", str(path)])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: --published: {path}") and message in line


def test_the_papers_numbers_are_a_published_file():
    from morec_core.results.paper_numbers import PAPER_FIGURES, PUBLISHED_FILE

    rows = read_published(PUBLISHED_FILE)
    assert len(rows) == sum(len(figure.values) for figure in PAPER_FIGURES)
    [mind] = [figure for figure in PAPER_FIGURES
              if figure.source == "Table 2, MIND, SASRec" and figure.metric == "hr@10"]
    assert mind.values == (("IDRec", 17.71), ("BERT-small", 18.50), ("BERT-base", 18.23),
                           ("RoBERTa-base", 18.68))
    assert mind.paper_says == "Improv. +5.48%"
