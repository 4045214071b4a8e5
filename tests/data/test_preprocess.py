"""The paper's preprocessing, step by step, on interaction tables written out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from morec_core.data.errors import DataError
from morec_core.data.preprocess import preprocess
from morec_core.data.raw import RawDataset
from morec_core.data.views import warm_view


def _raw(rows: list[tuple[str, str, int]], titles: dict[str, str] | None = None) -> RawDataset:
    users, items, orders = zip(*rows, strict=True)
    known = sorted(set(items)) if titles is None else list(titles)
    return RawDataset(
        name="hand-written",
        interactions=pd.DataFrame({"user": users, "item": items, "order": np.array(orders)}),
        items=pd.DataFrame({"item": known,
                            "title": [(titles or {}).get(item, f"title {item}") for item in known],
                            "image_path": ""}))


def _sequences(dataset) -> dict[str, list[str]]:
    raw = dataset.content.raw_ids
    return {user: [raw[item] for item in dataset.sequence(index)]
            for index, user in enumerate(dataset.raw_user_ids)}


def _run(raw, **settings):
    defaults = {"min_user_interactions": 3, "max_seq_len": 50}
    return preprocess(raw, **{**defaults, **settings})[0]


def _user(name: str, items: list[str], start: int = 0) -> list[tuple[str, str, int]]:
    return [(name, item, start + position) for position, item in enumerate(items)]


def test_chronological_order_is_stable_on_ties():
    rows = [("u", "c", 5), ("u", "a", 1), ("u", "d", 5), ("u", "b", 1), ("u", "e", 9)]
    assert _sequences(_run(_raw(rows))) == {"u": ["a", "b", "c", "d", "e"]}


def test_repeated_interactions_keep_the_earliest():
    rows = [("u", "x", 7), ("u", "y", 2), ("u", "x", 1), ("u", "z", 3), ("u", "y", 8)]
    assert _sequences(_run(_raw(rows))) == {"u": ["x", "y", "z"]}


def test_user_filter_drops_short_users_after_deduplication():
    rows = _user("long", list("abcde")) + _user("short", list("aabbcd"))  # 4 distinct items
    dataset = _run(_raw(rows), min_user_interactions=5)
    assert dataset.raw_user_ids == ["long"]


def test_user_filter_comes_before_truncation():
    # 6 interactions pass a 5-filter, then keep their latest 3: truncating first would drop them.
    dataset = _run(_raw(_user("u", list("abcdef"))), min_user_interactions=5, max_seq_len=3)
    assert _sequences(dataset) == {"u": ["d", "e", "f"]}


def test_latest_n_per_user():
    rows = _user("u1", list("abcdefg")) + _user("u2", list("xyz"))
    assert _sequences(_run(_raw(rows), max_seq_len=4)) == {"u1": list("defg"), "u2": list("xyz")}


def test_ids_are_contiguous_in_natural_order_and_unused_items_leave():
    rows = _user("20", ["100", "9", "10"]) + _user("3", ["9", "10", "11"])
    titles = {item: f"t{item}" for item in ["9", "10", "11", "100", "555"]}
    dataset = _run(_raw(rows, titles))
    assert dataset.content.raw_ids == ["", "9", "10", "11", "100"]  # "555" is never used
    assert dataset.content.titles == ["", "t9", "t10", "t11", "t100"]
    assert dataset.num_items == 4
    assert dataset.raw_user_ids == ["3", "20"]
    assert dataset.items.tolist() == [1, 2, 3, 4, 1, 2]
    assert dataset.offsets.tolist() == [0, 3, 6]


def test_leave_one_out_targets():
    dataset = _run(_raw(_user("u1", list("abcd")) + _user("u2", list("cab"))))
    names = dataset.content.raw_ids
    assert [names[i] for i in dataset.test_targets()] == ["d", "b"]
    assert [names[i] for i in dataset.valid_targets()] == ["c", "a"]
    assert dataset.train_counts().sum() == dataset.num_interactions - 2 * dataset.num_users


def _many_users(count: int) -> list[tuple[str, str, int]]:
    rows = []
    for user in range(count):
        length = 3 + user % 4  # 3..6 interactions
        rows += _user(f"user{user}", [f"item{(user + k) % 17}" for k in range(length)])
    return rows


def test_subsample_is_seeded_and_independent_of_file_order():
    rows = _many_users(40)
    first = _run(_raw(rows), user_sample=10, sample_seed=3)
    again = _run(_raw(rows[::-1]), user_sample=10, sample_seed=3)
    other = _run(_raw(rows), user_sample=10, sample_seed=4)
    assert first.raw_user_ids == again.raw_user_ids
    assert np.array_equal(first.items, again.items)
    assert len(first.raw_user_ids) == 10
    assert first.raw_user_ids != other.raw_user_ids


def test_subsample_comes_before_the_user_filter():
    rows = _many_users(40)
    sampled = _run(_raw(rows), user_sample=10, sample_seed=0, min_user_interactions=5)
    # Users with 3 or 4 interactions were sampled too and then filtered: fewer than 10 remain.
    assert 0 < len(sampled.raw_user_ids) < 10
    assert all(length >= 5 for length in sampled.lengths)


def test_warm_k_drops_rare_items_then_short_users():
    rows = (_user("u1", ["pop", "warm", "rare", "pop2"]) + _user("u2", ["pop", "warm", "pop2"])
            + _user("u3", ["pop", "rare2", "pop2", "x"]))
    dataset, report = preprocess(_raw(rows), min_user_interactions=3, max_seq_len=50,
                                 warm_min_item_interactions=2)
    assert _sequences(dataset) == {"u1": ["pop", "warm", "pop2"], "u2": ["pop", "warm", "pop2"]}
    assert dataset.content.raw_ids == ["", "pop", "pop2", "warm"]
    assert report.steps[-1].step == "warm-2"
    regular = _run(_raw(rows))
    viewed = warm_view(regular, min_item_interactions=2, min_user_interactions=3)
    assert np.array_equal(viewed.items, dataset.items)
    assert viewed.content == dataset.content


def test_report_counts_each_step():
    rows = _user("a", list("xxyzw")) + _user("b", list("xy"))
    _, report = preprocess(_raw(rows), min_user_interactions=3, max_seq_len=3)
    counts = [(step.step, step.users, step.interactions) for step in report.steps]
    assert counts == [("read", 2, 7), ("deduplicated", 2, 6), ("users with >= 3", 1, 4),
                      ("latest 3 per user", 1, 3)]


def test_filters_that_leave_nothing_are_an_error_naming_the_setting():
    with pytest.raises(DataError, match=r"hand-written: field 'data.min_user_interactions'"):
        _run(_raw(_user("u", list("abc"))), min_user_interactions=5)
