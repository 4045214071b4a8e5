"""Issue 22: the data audit of `morec data info` (and --format json): where the text came from,
text that is only codes, items without content, repeated pairs and what dedupe did, targets
repeating earlier items, tied timestamps; and the gate of data.min_text_coverage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from morec_core.config import ConfigError, DataConfig, RunSpec
from morec_core.data.errors import DataError
from morec_core.data.prepare import check_content, ensure_prepared
from morec_tui.cli import app
from tests.test_tune_preflight import _rechorus

runner = CliRunner()


def _info(source: str, folder: Path, *settings: str) -> tuple[dict, list[str]]:
    arguments = ["data", "info", source, "--path", str(folder), "--keep-all"]
    for setting in settings:
        arguments += ["--set", setting]
    result = runner.invoke(app, [*arguments, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr.splitlines()


def test_rechorus_category_codes_are_no_text(tmp_path, data_root):
    folder = _rechorus(tmp_path / "Grocery")
    report, warnings = _info("rechorus", folder)
    text = report["audit"]["text"]
    assert (text["items"], text["with_content"]) == (12, 0)
    assert text["source"] == ("item_meta.csv has no text column (found: item_id, i_category, "
                              "r_complement)")
    assert warnings == []
    report, warnings = _info("rechorus", folder, "text_columns=i_category")
    assert report["audit"]["text"]["numeric"] == 12
    assert warnings[0] == (
        "warning: 12 of 12 item texts are only numbers or codes (e.g. '0', '1', '2'; from "
        "item_meta.csv (column i_category)): a text encoder on them would learn one vector per "
        "code, so the arm would not be MoRec")
    config = DataConfig(source="rechorus", path=str(folder), text_columns="i_category")
    with pytest.raises(DataError, match=r"0\.0% of the 12 items have usable text"):
        check_content(config)


def test_rechorus_text_is_found_through_item2index(tmp_path, data_root):
    folder = _rechorus(tmp_path / "Grocery")
    (folder / "Grocery.item2index").write_text("".join(f"B0{item:04d}\t{item}\n"
                                                       for item in range(1, 13)))
    (folder / "Grocery.text").write_text("item_id:token\ttext:token_seq\n" + "".join(
        f"B0{item:04d}\tGround coffee number {item}\n" for item in range(1, 12)))
    report, warnings = _info("rechorus", folder)
    text = report["audit"]["text"]
    assert (text["items"], text["with_content"], text["numeric"]) == (12, 11, 0)
    assert text["source"] == "Grocery.text (column text), ids through Grocery.item2index"
    assert text["without"] == ["12"]
    assert warnings == []  # 11 of 12: above 90%
    dataset_path = check_content(DataConfig(source="rechorus", path=str(folder)))
    items = json.loads((dataset_path / "items.json").read_text())
    assert items["titles"][items["raw_ids"].index("5")] == "Ground coffee number 5"


def test_labels_shared_by_many_items_are_warned_about(tmp_path, data_root):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "interactions.csv").write_text("user_id,item_id\n" + "".join(
        f"u{user},i{(user * 7 + step) % 60}\n" for user in range(20) for step in range(6)))
    (folder / "items.csv").write_text("item_id,title\n" + "".join(
        f"i{item},{'Coffee' if item % 2 else 'Tea'}\n" for item in range(60)))
    report, warnings = _info("table", folder)
    assert report["audit"]["text"]["distinct"] == 2
    assert any("share 2 distinct texts" in line and "category labels" in line
               for line in warnings), warnings


def test_repeats_targets_ties_and_missing_content_are_counted(tmp_path, data_root):
    folder = tmp_path / "shop"
    folder.mkdir()
    rows = [  # (user, item, time)
        ("u1", "a", 1), ("u1", "b", 2), ("u1", "a", 3), ("u1", "c", 4), ("u1", "d", 5),
        ("u2", "a", 1), ("u2", "b", 1), ("u2", "c", 2), ("u2", "d", 3), ("u2", "b", 4),
        ("u3", "e", 1), ("u3", "f", 2), ("u3", "g", 3), ("u3", "g", 4), ("u3", "h", 5)]
    (folder / "interactions.csv").write_text(
        "user_id,item_id,time\n" + "".join(f"{u},{i},{t}\n" for u, i, t in rows))
    (folder / "items.csv").write_text("item_id,title\na,Red mug\nb,Blue mug\nc,Teapot\n"
                                      "d,Kettle\ne,Cup\n")
    for dedupe, did in (("first", "data.dedupe=first keeps the earliest (3 rows dropped)"),
                        ("keep", "data.dedupe=keep keeps them all")):
        report, _ = _info("table", folder, "time_column=time", f"dedupe={dedupe}",
                          "min_user_interactions=3")
        audit = report["audit"]
        # u1 repeats a, u2 repeats b (its test target), u3 repeats g (its validation target).
        assert (audit["repeated_pairs"], audit["users_with_repeats"]) == (3, 3)
        assert (audit["repeated_valid"], audit["repeated_test"]) == (1, 1)
        assert (audit["tied_rows"], audit["users_with_ties"]) == (1, 1)
        assert audit["text"]["without"] == ["f", "g", "h"]
        table = runner.invoke(app, ["data", "info", "table", "--path", str(folder), "--keep-all",
                                    "--set", "time_column=time", "--set", f"dedupe={dedupe}",
                                    "--set", "min_user_interactions=3"])
        assert f"repeated (user, item) pairs: 3 rows of 3 users; {did}" in table.stdout
        assert "items without text: 3 (first 'f', 'g', 'h')" in table.stdout
        assert ("targets repeating an earlier item of their user: 1 validation, 1 test"
                in table.stdout)
        assert "tied timestamps: 1 rows share their user's previous time (1 users)" in \
            table.stdout


def test_without_time_column_the_file_order_is_said(tmp_path, data_root, write_pairs):
    folder = write_pairs(tmp_path / "toy", {"u1": ["1", "2", "3"]}, {"1": "a", "2": "b", "3": "c"})
    report, _ = _info("pairs", folder, "min_user_interactions=3")
    assert report["audit"]["timed"] is False
    table = runner.invoke(app, ["data", "info", "pairs", "--path", str(folder), "--set",
                                "min_user_interactions=3"])
    assert "timestamps: none; the file order is the order" in table.stdout
    assert "text: 3 of 3 items (100.0%) from data_items.csv (column title)" in table.stdout
    assert table.stdout.splitlines()[1].startswith("toy (pairs, text, users >= 3) ")


def test_the_coverage_threshold_is_no_part_of_the_spec_key_or_the_prepared_folder(tmp_path,
                                                                                  data_root):
    strict = RunSpec().with_overrides(["data.min_text_coverage=0.99"])
    assert strict.spec_key == RunSpec().spec_key
    with pytest.raises(ConfigError, match="data.min_text_coverage: must be in"):
        RunSpec().with_overrides(["data.min_text_coverage=1.5"])
    folder = _rechorus(tmp_path / "Grocery")
    low = DataConfig(source="rechorus", path=str(folder), text_columns="i_category",
                     min_text_coverage=0.0)
    assert ensure_prepared(low) == ensure_prepared(DataConfig(
        source="rechorus", path=str(folder), text_columns="i_category"))


def test_morec_run_with_a_text_encoder_refuses_codes(tmp_path, data_root):
    folder = _rechorus(tmp_path / "Grocery")
    result = runner.invoke(app, ["run", "--dataset", "rechorus", "--path", str(folder),
                                 "--encoder", "text", "--model", "minilm-l6", "--storage",
                                 str(tmp_path / "runs.db"), "--set", "data.text_columns=i_category",
                                 "--set", "train.epochs=1"])
    assert result.exit_code != 0
    assert "below data.min_text_coverage=0.9: the arm would not be MoRec" in result.output
    assert "Traceback" not in result.output
