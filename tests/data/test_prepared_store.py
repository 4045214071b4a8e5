"""`prepare`: cached on disk, rebuilt when its inputs change, never left half-written."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from morec_core.config import DataConfig
from morec_core.data import prepare as prepare_module
from morec_core.data.errors import DataError
from morec_core.data.prepare import (
    ensure_prepared,
    load_prepared,
    load_report,
    prepare,
    prepared_key,
)
from morec_core.data.readers import READERS

SEQUENCES = {f"u{user}": [str(item) for item in range(user, user + 6)] for user in range(8)}
TITLES = {str(item): f"title {item}" for item in range(14)}


@pytest.fixture
def folder(tmp_path, write_pairs):
    return write_pairs(tmp_path / "raw", SEQUENCES, TITLES)


@pytest.fixture
def read_calls(monkeypatch):
    """Count how often the pairs reader actually reads."""
    calls = []
    original = READERS["pairs"]

    def counting(path, config):
        calls.append(path)
        return original.read(path, config)

    monkeypatch.setitem(READERS, "pairs", dataclasses.replace(original, read=counting))
    return calls


def _config(folder, **settings) -> DataConfig:
    return DataConfig(source="pairs", path=str(folder), **settings)


def test_second_prepare_loads_from_disk(data_root, folder, read_calls):
    first = prepare(_config(folder))
    second = prepare(_config(folder))
    assert len(read_calls) == 1
    assert np.array_equal(first.items, second.items)
    assert np.array_equal(first.offsets, second.offsets)
    assert first.content == second.content
    assert first.raw_user_ids == second.raw_user_ids
    assert first.name == "raw"  # the folder's name, safe inside a cache path
    assert [path.parent.name for path in (data_root / "prepared").glob("*/meta.json")] == [
        ensure_prepared(_config(folder)).name]


def test_settings_and_raw_files_change_the_key_but_cache_only_settings_do_not(folder):
    base = prepared_key(_config(folder))
    assert prepared_key(_config(folder, max_seq_len=4)) != base
    assert prepared_key(_config(folder, warm_min_item_interactions=2)) != base
    assert prepared_key(_config(folder, modality="image")) != base
    assert prepared_key(_config(folder), require_content=False) != base
    assert prepared_key(_config(folder, max_title_tokens=12, image_size=64)) == base
    users = folder / "data_users.tsv"
    stat = users.stat()
    os.utime(users, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert prepared_key(_config(folder)) != base


def test_edited_raw_file_is_prepared_again(data_root, folder, read_calls):
    prepare(_config(folder))
    with (folder / "data_users.tsv").open("a", encoding="utf-8") as handle:
        handle.write("late\t1 2 3 4 5\n")
    again = prepare(_config(folder))
    assert len(read_calls) == 2
    assert "late" in again.raw_user_ids


def test_report_is_stored(data_root, folder):
    report = load_report(ensure_prepared(_config(folder, max_seq_len=4)))
    assert [step.step for step in report.steps] == [
        "read", "items with text (0 interactions dropped)", "deduplicated",
        "users with >= 5", "latest 4 per user"]
    assert report.steps[-1].interactions == 8 * 4


def test_failure_while_saving_leaves_no_folder(data_root, folder, monkeypatch):
    saved = []
    real_save = np.save

    def failing_save(path, array):
        saved.append(path)
        if len(saved) == 2:
            raise OSError("disk full")
        real_save(path, array)

    monkeypatch.setattr(prepare_module.np, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        prepare(_config(folder))
    assert len(saved) == 2
    assert list((data_root / "prepared").iterdir()) == []


def test_bad_input_leaves_no_folder(data_root, folder):
    (folder / "data_users.tsv").write_text("u1 1 2 3\n", encoding="utf-8")
    with pytest.raises(DataError, match="data_users.tsv: line 1"):
        prepare(_config(folder))
    assert not (data_root / "prepared").exists() or not any((data_root / "prepared").iterdir())


def test_load_prepared_rejects_a_folder_that_is_not_one(tmp_path):
    with pytest.raises(DataError, match="meta.json: missing file"):
        load_prepared(tmp_path)
