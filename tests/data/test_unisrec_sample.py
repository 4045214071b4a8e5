"""Issue 22: the real UniSRec cut in ../shared/data/format-samples (UniSRec's own files for 300
users of Amazon "Scientific") reads to exactly the sequences its README describes, every user
compared, under data.dedupe=keep and first; its text is found through Scientific.item2index."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from morec_core.config import DataConfig
from morec_core.data.prepare import prepare
from morec_tui.cli import app
from tests.data.publishers import first_only

SAMPLE = (Path(__file__).resolve().parents[2].parent / "shared" / "data" / "format-samples"
          / "unisrec-scientific-300")

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(not SAMPLE.is_dir(), reason=f"UniSRec format sample not found at {SAMPLE}"),
]


def _lines(split: str) -> dict[str, list[tuple[list[str], str]]]:
    """user -> [(history, target)] in file order, read with the csv module alone."""
    found: dict[str, list[tuple[list[str], str]]] = defaultdict(list)
    with (SAMPLE / f"Scientific.{split}.inter").open(encoding="utf-8", newline="") as handle:
        rows = csv.reader(handle, delimiter="\t")
        assert next(rows) == ["user_id:token", "item_id_list:token_seq", "item_id:token"]
        for user, history, target in rows:
            found[user].append((history.split(), target))
    return found


def _read(dedupe: str) -> dict[str, list[str]]:
    dataset = prepare(DataConfig(source="unisrec", path=str(SAMPLE), dedupe=dedupe,
                                 max_seq_len=1000, min_user_interactions=3))
    raw_ids = dataset.content.raw_ids
    return {user: [raw_ids[item] for item in dataset.sequence(index)]
            for index, user in enumerate(dataset.raw_user_ids)}


def test_the_sample_reads_to_the_sequences_its_readme_describes(data_root):
    read = _read("keep")
    assert len(read) == 300
    assert len({item for items in read.values() for item in items}) == 1_648
    assert sum(map(len, read.values())) == 2_630
    assert len(read["247"]) == 80
    assert read["247"][-5:] == ["1454", "711", "187", "1249", "1455"]
    train, valid, test = _lines("train"), _lines("valid"), _lines("test")
    for user, items in read.items():
        (valid_history, valid_target), = valid[user]
        (test_history, test_target), = test[user]
        assert items[-2:] == [valid_target, test_target], user
        # The test line holds the latest (at most 50) items before the last one: for users
        # with fewer, that is the whole sequence.
        assert items[-1 - len(test_history):] == [*test_history, test_target], user
        if len(test_history) < 50:
            assert items == [*test_history, test_target], user
        # Train lines: one per training item but the first, from the last target backwards;
        # the last line's history is the first training item.
        lines = train[user]
        assert len(lines) == len(items) - 3, user
        assert lines[-1][0] == items[:1] and [target for _, target in reversed(lines)] == \
            items[1:-2], user
        assert Counter(valid_history) <= Counter(items[:-2]), user


def test_dedupe_first_keeps_each_pairs_first_occurrence(data_root):
    kept, first = _read("keep"), _read("first")
    assert sum(map(len, first.values())) == 2_614
    assert first == first_only(kept)


def test_data_info_reports_the_text_found_through_item2index(data_root):
    result = CliRunner().invoke(app, ["data", "info", "unisrec", "--path", str(SAMPLE),
                                      "--format", "json"])
    assert result.exit_code == 0, result.output
    audit = json.loads(result.stdout)["audit"]["text"]
    assert (audit["items"], audit["with_content"], audit["numeric"]) == (1_648, 1_648, 0)
    assert audit["source"] == ("Scientific.text (column text), ids through "
                               "Scientific.item2index")
    table = CliRunner().invoke(app, ["data", "info", "unisrec", "--path", str(SAMPLE)])
    assert ("text: 1,648 of 1,648 items (100.0%) from Scientific.text (column text), ids "
            "through Scientific.item2index") in table.stdout
