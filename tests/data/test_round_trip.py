"""Issue 22: every reader rebuilds, user by user, the sequences that the publisher's own
preprocessing wrote (tests/data/publishers.py), with the publisher's ordering, truncation and
repeats, under data.dedupe=first and keep. Not counts: whole sequences."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from morec_core.config import DataConfig
from morec_core.data.prepare import prepare
from tests.data import publishers
from tests.data.publishers import Sequences, first_only, timed

# Items as integers, turned into each format's ids below. "a" repeats an item in training, "b"
# ends on an item it had before, "c" has one training item (UniSRec writes it no train line),
# "d" has 60 items (UniSRec cuts its histories to the latest 50) and a repeat, "e" shares items.
BASE: dict[str, list[int]] = {
    "a": [1, 2, 3, 4, 5, 2, 6],
    "b": [7, 8, 9, 10, 11, 12, 9],
    "c": [13, 14, 15],
    "d": [*range(20, 50), 21, *range(50, 79)],
    "e": [3, 1, 4, 16, 5, 17, 2, 6],
}


def _ids(make: Callable[[int], str], users: Callable[[str], str] = str) -> Sequences:
    return {users(user): [make(item) for item in items] for user, items in BASE.items()}


def _titles(sequences: Sequences) -> dict[str, str]:
    every = dict.fromkeys(item for items in sequences.values() for item in items)
    return {item: f"Item {item} red pen" for item in every}


def _read(source: str, folder: Path, dedupe: str, split: str = "leave_one_out",
          **settings: str) -> Sequences:
    dataset = prepare(DataConfig(source=source, path=str(folder), dedupe=dedupe, split=split,
                                 max_seq_len=1000, min_user_interactions=3, **settings),
                      require_content=False)
    raw_ids = dataset.content.raw_ids
    return {user: [raw_ids[item] for item in dataset.sequence(index)]
            for index, user in enumerate(dataset.raw_user_ids)}


def _expect(read: Sequences, known: Sequences, dedupe: str) -> None:
    expected = known if dedupe == "keep" else first_only(known)
    assert sorted(read) == sorted(expected)
    for user, items in expected.items():
        assert read[user] == items, user


DEDUPE = ["first", "keep"]


@pytest.mark.parametrize("dedupe", DEDUPE)
def test_unisrec(tmp_path, data_root, dedupe):
    raw = _ids(lambda item: f"B00{item:07d}", users=lambda user: f"A{user.upper()}X")
    texts = _titles(raw)
    known = publishers.write_unisrec(tmp_path / "Scientific", raw, texts)
    assert any(len(items) > 51 for items in known.values())  # a history was cut
    read = _read("unisrec", tmp_path / "Scientific", dedupe)
    _expect(read, known, dedupe)
    # The text is keyed by ASIN; item2index maps it to the .inter ids.
    to_raw = {index: item for user, items in raw.items()
              for index, item in zip(known[str(list(raw).index(user))], items, strict=True)}
    dataset = prepare(DataConfig(source="unisrec", path=str(tmp_path / "Scientific")))
    titles = dict(zip(dataset.content.raw_ids[1:], dataset.content.titles[1:], strict=True))
    assert len(titles) > 30
    assert titles == {index: texts[to_raw[index]] for index in titles}


def test_unisrec_given_split_keeps_the_published_targets(tmp_path, data_root):
    raw = _ids(lambda item: f"B00{item:07d}")
    known = publishers.write_unisrec(tmp_path / "Scientific", raw, _titles(raw))
    _expect(_read("unisrec", tmp_path / "Scientific", "keep", split="given"), known, "keep")


# Not given with first: user b's test target repeats an earlier item, which dedupe=first
# removes (test_published_formats checks that error).
@pytest.mark.parametrize(("split", "dedupe"), [("leave_one_out", "first"),
                                               ("leave_one_out", "keep"), ("given", "keep")])
def test_rechorus(tmp_path, data_root, dedupe, split):
    rows = timed(_ids(lambda item: f"B0{item:08d}"))
    known = publishers.write_rechorus(tmp_path / "Grocery", rows)
    _expect(_read("rechorus", tmp_path / "Grocery", dedupe, split=split), known, dedupe)


@pytest.mark.parametrize("dedupe", DEDUPE)
def test_recbole(tmp_path, data_root, dedupe):
    sequences = _ids(str)
    publishers.write_recbole(tmp_path / "ml", timed(sequences), _titles(sequences))
    _expect(_read("recbole", tmp_path / "ml", dedupe), sequences, dedupe)


@pytest.mark.parametrize("dedupe", DEDUPE)
@pytest.mark.parametrize("source", ["pairs", "microlens"])
def test_pairs(tmp_path, data_root, dedupe, source):
    sequences = _ids(str)
    publishers.write_pairs(tmp_path / "MicroLens", sequences, _titles(sequences))
    _expect(_read(source, tmp_path / "MicroLens", dedupe), sequences, dedupe)


@pytest.mark.parametrize("dedupe", DEDUPE)
def test_mind(tmp_path, data_root, dedupe):
    sequences = _ids(lambda item: f"N{item}", users=lambda user: f"U{user}")
    publishers.write_mind(tmp_path / "MIND", sequences, _titles(sequences), history_length=2)
    _expect(_read("mind", tmp_path / "MIND", dedupe), sequences, dedupe)


@pytest.mark.parametrize("dedupe", DEDUPE)
def test_hm(tmp_path, data_root, dedupe):
    sequences = _ids(lambda item: f"{108775000 + item:010d}")
    publishers.write_hm(tmp_path / "hm", timed(sequences), _titles(sequences))
    _expect(_read("hm", tmp_path / "hm", dedupe), sequences, dedupe)


@pytest.mark.parametrize("dedupe", DEDUPE)
def test_movielens(tmp_path, data_root, dedupe):
    # MovieLens has one rating per (user, movie): no repeats. Ties of one user's timestamps
    # are ordered as the file lists them, by movieId.
    sequences = {user: list(dict.fromkeys(items))
                 for user, items in _ids(str, users=lambda user: str(ord(user))).items()}
    rows = timed(sequences)
    publishers.write_movielens(tmp_path / "ml", rows, _titles(sequences))
    known = {user: [item for item, _ in sorted(pairs, key=lambda pair: (pair[1], int(pair[0])))]
             for user, pairs in rows.items()}
    assert known != sequences  # a tie the file order decides against the given order
    _expect(_read("movielens", tmp_path / "ml", dedupe), known, dedupe)


@pytest.mark.parametrize("dedupe", DEDUPE)
def test_table(tmp_path, data_root, dedupe):
    sequences = _ids(lambda item: f"sku{item}")
    publishers.write_table(tmp_path / "shop", timed(sequences), _titles(sequences))
    read = _read("table", tmp_path / "shop", dedupe, interactions_file="events.csv",
                 items_file="catalogue.csv", user_column="customer", item_column="sku",
                 time_column="when", text_columns="name")
    _expect(read, sequences, dedupe)
