"""Issue 14: the UniSRec, ReChorus and generic table readers, data.split, data.dedupe, the tie
warning, the users-file header line and `morec data formats`. Every file is written here."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from morec_core.config import ConfigError, DataConfig
from morec_core.data.errors import DataError
from morec_core.data.prepare import prepare
from morec_core.data.readers import READERS
from morec_core.data.readers.formats import FORMATS
from morec_tui.cli import app
from tests.data import publishers

runner = CliRunner()
INTER_HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token\n"
# Users of 4..9 items, and one of 60 whose histories UniSRec cuts to the latest 50.
SEQUENCES = {str(user): [str((user * 7 + step * 3) % 40 + 1) for step in range(4 + user)]
             for user in range(6)}
SEQUENCES["6"] = [str(item) for item in range(100, 160)]


def _write_unisrec(folder: Path, sequences: dict[str, list[str]]) -> dict[str, list[str]]:
    """UniSRec's files (tests/data/publishers.py: train lines from the last target backwards),
    with a .text keyed by the .inter ids themselves (no item2index); returns the sequences in
    .inter ids."""
    indexed = publishers.write_unisrec(folder, sequences, dict.fromkeys(
        (item for items in sequences.values() for item in items), "unused"))
    (folder / "Scientific.item2index").unlink()
    every = sorted({item for items in indexed.values() for item in items}, key=int)
    (folder / "Scientific.text").write_text(
        "item_id:token\ttext:token_seq\n" + "".join(f"{item}\tpen number {item}\n"
                                                    for item in every), encoding="utf-8")
    return indexed


def _sequences(dataset) -> dict[str, list[str]]:
    raw_ids = dataset.content.raw_ids
    return {user: [raw_ids[item] for item in dataset.sequence(index)]
            for index, user in enumerate(dataset.raw_user_ids)}


@pytest.mark.parametrize("split", ["given", "leave_one_out"])
def test_a_unisrec_folder_is_read_without_conversion(tmp_path, data_root, split):
    folder = tmp_path / "Scientific"
    known = _write_unisrec(folder, SEQUENCES)
    dataset = prepare(DataConfig(source="unisrec", path=str(folder), split=split,
                                 max_seq_len=100, min_user_interactions=3))
    # The 60-item user comes back whole, though every history line stops at 50 items.
    assert _sequences(dataset) == known
    assert dataset.num_interactions == sum(len(items) for items in SEQUENCES.values())
    raw_ids = dataset.content.raw_ids
    assert [raw_ids[item] for item in dataset.test_targets()] == [
        known[user][-1] for user in dataset.raw_user_ids]
    assert dataset.content.titles[1].startswith("pen number ")


def _write_rechorus(folder: Path) -> Path:
    """User 1's published dev item (time 150) is older than a training item (time 200): the
    given split keeps it as the validation target, leave-one-out by time does not."""
    folder.mkdir(parents=True, exist_ok=True)
    header = "user_id\titem_id\ttime\n"
    train = [(1, 11, 100), (1, 12, 110), (1, 13, 200), (2, 21, 100), (2, 22, 101),
             (2, 23, 102), (2, 24, 103), (2, 21, 104)]  # user 2 repeats item 21 in training
    (folder / "train.csv").write_text(header + "".join(f"{u}\t{i}\t{t}\n" for u, i, t in train))
    (folder / "dev.csv").write_text("user_id\titem_id\ttime\tneg_items\n"
                                    "1\t14\t150\t[3, 4]\n2\t25\t105\t[3, 4]\n")
    (folder / "test.csv").write_text("user_id\titem_id\ttime\tneg_items\n"
                                     "1\t15\t300\t[3, 4]\n2\t26\t106\t[3, 4]\n")
    items = [11, 12, 13, 14, 15, 21, 22, 23, 24, 25, 26]
    (folder / "item_meta.csv").write_text(
        "item_id\ti_category\ti_brand\n" + "".join(f"{i}\tcoffee\tbrand{i}\n" for i in items))
    return folder


def test_a_rechorus_folder_keeps_its_published_split_when_asked(tmp_path, data_root):
    folder = _write_rechorus(tmp_path / "Grocery")
    settings = dict(source="rechorus", path=str(folder), text_columns="i_category,i_brand")
    given = prepare(DataConfig(split="given", **settings))
    derived = prepare(DataConfig(**settings))
    assert _sequences(given)["1"] == ["11", "12", "13", "14", "15"]
    assert _sequences(derived)["1"] == ["11", "12", "14", "13", "15"]
    # 12 rows in the three files, one repeat of (2, 21) dropped.
    assert given.num_interactions == derived.num_interactions == 12 - 1
    assert given.content.titles[given.content.raw_ids.index("14")] == "coffee brand14"


def test_dedupe_keep_matches_counts_published_without_deduplication(tmp_path, data_root):
    folder = _write_rechorus(tmp_path / "Grocery")
    kept = prepare(DataConfig(source="rechorus", path=str(folder), dedupe="keep"),
                   require_content=False)
    first = prepare(DataConfig(source="rechorus", path=str(folder)), require_content=False)
    assert kept.num_interactions == 12 and first.num_interactions == 11
    assert _sequences(kept)["2"] == ["21", "22", "23", "24", "21", "25", "26"]


def test_given_refuses_a_source_without_a_published_split(tmp_path, data_root, write_pairs):
    folder = write_pairs(tmp_path / "toy", SEQUENCES, {"1": "a"})
    with pytest.raises(ConfigError, match="publishes no split; given applies to unisrec, "
                                          "rechorus"):
        prepare(DataConfig(source="pairs", path=str(folder), split="given"))


def test_given_names_a_target_that_deduplication_removed(tmp_path, data_root):
    folder = _write_rechorus(tmp_path / "Grocery")
    (folder / "test.csv").write_text("user_id\titem_id\ttime\n1\t11\t300\n2\t26\t106\n")
    config = DataConfig(source="rechorus", path=str(folder), split="given",
                        min_user_interactions=3)
    with pytest.raises(DataError, match="1 users .first '1'. no longer end with their given"):
        prepare(config, require_content=False)
    kept = prepare(dataclasses.replace(config, dedupe="keep"), require_content=False)
    assert _sequences(kept)["1"][-2:] == ["14", "11"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_a_table_is_read_through_its_column_mapping(tmp_path, data_root, suffix):
    folder = tmp_path / "shop"
    (folder / "pics").mkdir(parents=True)
    rows = [(user, f"i{(user + step) % 6}", 1000 + 10 * step)
            for user in range(3) for step in range(5)]
    frame = pd.DataFrame(rows, columns=["customer", "sku", "when"])
    items = pd.DataFrame({"sku": [f"i{n}" for n in range(6)],
                          "name": [f"mug {n}" for n in range(6)],
                          "colour": ["red", "", "blue", "red", "red", "blue"]})
    (folder / "pics" / "i2.jpg").write_bytes(b"not read here")
    for name, table in (("events", frame), ("catalogue", items)):
        path = folder / f"{name}{suffix}"
        if suffix == ".parquet":
            table.to_parquet(path)
        else:
            table.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    config = DataConfig(source="table", path=str(folder), interactions_file=f"events{suffix}",
                        items_file=f"catalogue{suffix}", user_column="customer",
                        item_column="sku", time_column="when", text_columns="name,colour",
                        image_pattern="pics/{item}.jpg")
    raw = READERS["table"].read(folder, config)
    assert len(raw.interactions) == len(rows)
    catalogue = raw.items.set_index("item")
    assert catalogue.loc["i0", "title"] == "mug 0 red" and catalogue.loc["i1", "title"] == "mug 1"
    assert catalogue.loc["i2", "image_path"] == str((folder / "pics" / "i2.jpg").resolve())
    assert catalogue.loc["i3", "image_path"] == ""
    dataset = prepare(config)
    assert dataset.num_users == 3 and dataset.num_interactions == len(rows)


def test_a_mapping_naming_a_missing_column_lists_the_columns_present(tmp_path, data_root):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "interactions.csv").write_text("customer,sku,when\nc1,i1,5\n")
    result = runner.invoke(app, ["data", "info", "table", "--path", str(folder),
                                 "--set", "user_column=customer", "--set", "item_column=sku",
                                 "--set", "time_column=time"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {folder / 'interactions.csv'}: field 'time': data.time_column names a "
        f"missing column (found: customer, sku, when)"]
    assert not (data_root / "prepared").exists() or not any((data_root / "prepared").iterdir())


def test_tied_timestamps_among_the_last_three_are_warned_about(tmp_path, data_root):
    folder = tmp_path / "shop"
    folder.mkdir()
    # u1's last two interactions share a time, u2's tie lies before its last three, u3 has none.
    times = {"u1": [1, 2, 3, 4, 4], "u2": [1, 1, 2, 3, 4], "u3": [1, 2, 3, 4, 5]}
    lines = [f"{user},{user}-{index},{time}" for user, values in times.items()
             for index, time in enumerate(values)]
    (folder / "interactions.csv").write_text("user_id,item_id,timestamp\n" + "\n".join(lines))
    result = runner.invoke(app, ["data", "info", "table", "--path", str(folder), "--keep-all",
                                 "--set", "time_column=timestamp"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: 1 of 3 users have equal timestamps among their last three interactions: the "
        "file order decides their validation and test items"]
    again = runner.invoke(app, ["data", "prepare", "table", "--path", str(folder), "--keep-all",
                                "--set", "time_column=timestamp"])
    assert "warning: 1 of 3 users" in again.stderr  # read back from the preparation report


@pytest.mark.parametrize("header", ["user\titems", "user_id:token\titem_id_list:token_seq",
                                    "user_id\titem_id_list"])
def test_a_users_file_header_line_is_not_read_as_a_user(tmp_path, header):
    (tmp_path / "x_users.tsv").write_text(f"{header}\nu1\t3 1 2\nu2\t2 3\n", encoding="utf-8")
    raw = READERS["pairs"].read(tmp_path, DataConfig())
    assert sorted(set(raw.interactions["user"])) == ["u1", "u2"]
    assert len(raw.interactions) == 5


def test_a_user_named_like_a_header_is_still_a_user(tmp_path):
    (tmp_path / "x_users.tsv").write_text("user\t3 1 2\nu2\t2 3\n", encoding="utf-8")
    raw = READERS["pairs"].read(tmp_path, DataConfig())
    assert sorted(set(raw.interactions["user"])) == ["u2", "user"]


def test_formats_lists_every_reader_from_the_one_table():
    assert list(FORMATS) == list(READERS)
    result = runner.invoke(app, ["data", "formats"])
    assert result.exit_code == 0, result.output
    for name, files in FORMATS.items():
        assert f"\n{name}: " in f"\n{result.output}"
        for file in files:
            assert file.example in result.output and file.columns in result.output
    assert "<name>.text (data.items_file) (optional)" in result.output
    assert "B005GK3IVW<TAB>26" in result.output  # item2index, as UniSRec writes it
    one = runner.invoke(app, ["data", "formats", "rechorus"])
    assert one.output.startswith("rechorus: ") and "unisrec" not in one.output
    assert runner.invoke(app, ["data", "formats", "nope"]).exit_code == 2


def test_given_leaves_out_users_without_a_published_target(tmp_path, data_root):
    from morec_core.data.prepare import build

    folder = _write_rechorus(tmp_path / "Grocery")
    with (folder / "train.csv").open("a") as handle:  # user 3: training rows only
        handle.write("".join(f"3\t{item}\t{item}\n" for item in (11, 12, 13, 14, 15)))
    config = DataConfig(source="rechorus", path=str(folder), split="given")
    dataset, report = build(config, require_content=False)
    assert dataset.raw_user_ids == ["1", "2"]
    step = next(step for step in report.steps if step.step.startswith("users with a given"))
    assert (step.users, step.interactions) == (2, 12)
    assert prepare(DataConfig(source="rechorus", path=str(folder)),
                   require_content=False).raw_user_ids == ["1", "2", "3"]


def test_table_times_may_be_iso_8601_and_a_bad_one_is_named(tmp_path, data_root):
    folder = tmp_path / "shop"
    folder.mkdir()
    days = ["2024-01-05", "2024-01-02T10:00:00", "2024-01-03", "2024-01-01", "2024-01-04"]
    (folder / "interactions.csv").write_text(
        "user_id,item_id,day\n" + "".join(f"u1,i{n},{day}\n" for n, day in enumerate(days)))
    config = DataConfig(source="table", path=str(folder), time_column="day")
    dataset = prepare(config, require_content=False)
    assert _sequences(dataset)["u1"] == ["i3", "i1", "i2", "i4", "i0"]
    (folder / "interactions.csv").write_text("user_id,item_id,day\nu1,i1,2024-01-05\n"
                                             "u1,i2,last tuesday\n")
    with pytest.raises(DataError, match=r"interactions\.csv: line 3: field 'day': expected a "
                                        r"time like 'ISO8601', got 'last tuesday'"):
        prepare(config, require_content=False)


def test_a_text_column_the_items_file_lacks_is_named(tmp_path, data_root):
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "interactions.csv").write_text("user_id,item_id\nu1,i1\n")
    (folder / "items.csv").write_text("item_id,name\ni1,mug\n")
    config = DataConfig(source="table", path=str(folder), text_columns="name,colour")
    with pytest.raises(DataError, match=r"items\.csv: field 'colour': data\.text_columns names "
                                        r"a missing column \(found: item_id, name\)"):
        READERS["table"].read(folder, config)
