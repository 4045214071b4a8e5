"""Data fingerprints: equal for two preparations of the same files in two places, different (and
naming what differs) after another dedupe, another order of tied timestamps or another title."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from morec_core.config import DataConfig
from morec_core.data import fingerprint
from morec_core.data.fingerprint import DataFingerprint
from morec_core.data.prepare import ensure_prepared, load_prepared

# user, item, time: u1's last two interactions tie at time 9 (the file order decides which is
# the validation and which the test target); u2 repeats item b.
ROWS = [("u1", "a", 1), ("u1", "b", 2), ("u1", "c", 3), ("u1", "d", 9), ("u1", "e", 9),
        ("u2", "b", 1), ("u2", "c", 2), ("u2", "b", 3), ("u2", "d", 4), ("u2", "e", 5),
        ("u2", "f", 6), ("u3", "a", 1), ("u3", "c", 2), ("u3", "d", 3), ("u3", "f", 4)]
TITLES = {"a": "red cat", "b": "blue dog", "c": "a movie", "d": "big news", "e": "small cat",
          "f": "the dog"}


def write_table(folder: Path, rows=ROWS, titles=TITLES, images: dict[str, bytes] | None = None
                ) -> Path:
    folder.mkdir(parents=True)
    lines = ["user_id,item_id,ts", *[f"{user},{item},{time}" for user, item, time in rows]]
    (folder / "interactions.csv").write_text("\n".join(lines) + "\n", "utf-8")
    items = ["item_id,title", *[f"{item},{title}" for item, title in titles.items()]]
    (folder / "items.csv").write_text("\n".join(items) + "\n", "utf-8")
    for item, content in (images or {}).items():
        (folder / "images").mkdir(exist_ok=True)
        (folder / "images" / f"{item}.jpg").write_bytes(content)
    return folder


def fingerprint_of(folder: Path, data_root: Path, monkeypatch, **settings) -> DataFingerprint:
    monkeypatch.setenv("MOREC_DATA_DIR", str(data_root))
    config = DataConfig(source="table", path=str(folder), time_column="ts",
                        min_user_interactions=3, **settings)
    prepared = ensure_prepared(config)
    return fingerprint.of_prepared(prepared, load_prepared(prepared), config.modality)


def test_two_preparations_of_the_same_files_in_two_places_give_one_fingerprint(
        tmp_path, monkeypatch):
    first = write_table(tmp_path / "machine-a" / "shop")
    second = tmp_path / "machine-b" / "elsewhere"
    shutil.copytree(first, second)  # another path, other file times: another prepared key
    one = fingerprint_of(first, tmp_path / "data-a", monkeypatch)
    other = fingerprint_of(second, tmp_path / "data-b", monkeypatch)
    assert one == DataFingerprint(**{**vars(other), "dataset": one.dataset})
    assert one.digest == other.digest and one.differences(other) == []
    assert (one.users, one.items, one.interactions) == (3, 6, 14)
    # Kept beside the prepared arrays, and read back as it was written.
    cached = list((tmp_path / "data-a").rglob("fingerprint-text.json"))
    assert len(cached) == 1 and DataFingerprint.from_json(cached[0].read_text()) == one


def test_another_dedupe_changes_the_fingerprint_and_says_what(tmp_path, monkeypatch):
    folder = write_table(tmp_path / "shop")
    first = fingerprint_of(folder, tmp_path / "data", monkeypatch)
    kept = fingerprint_of(folder, tmp_path / "data", monkeypatch, dedupe="keep")
    assert first.digest != kept.digest
    # u2's repeat of b stays: one more interaction, and u2's sequence changes.
    assert kept.differences(first) == ["counts (interactions 15 vs 14)", "sequences"]


def test_reordered_tied_timestamps_change_the_split_targets(tmp_path, monkeypatch):
    swapped = list(ROWS)
    swapped[3], swapped[4] = swapped[4], swapped[3]  # u1's d and e, both at time 9
    one = fingerprint_of(write_table(tmp_path / "a"), tmp_path / "data", monkeypatch)
    other = fingerprint_of(write_table(tmp_path / "b", rows=swapped), tmp_path / "data",
                           monkeypatch)
    assert one.digest != other.digest
    assert one.differences(other) == ["split targets"]


def test_a_changed_title_changes_the_item_content(tmp_path, monkeypatch):
    one = fingerprint_of(write_table(tmp_path / "a"), tmp_path / "data", monkeypatch)
    other = fingerprint_of(write_table(tmp_path / "b", titles={**TITLES, "c": "a film"}),
                           tmp_path / "data", monkeypatch)
    assert one.differences(other) == ["item content"]


def test_images_are_fingerprinted_by_their_bytes_not_their_paths(tmp_path, monkeypatch):
    images = {item: f"jpeg bytes of {item}".encode() for item in TITLES}
    settings = {"modality": "image", "image_pattern": "images/{item}.jpg"}
    one = fingerprint_of(write_table(tmp_path / "a", images=images), tmp_path / "data",
                         monkeypatch, **settings)
    moved = fingerprint_of(write_table(tmp_path / "b", images=images), tmp_path / "data",
                           monkeypatch, **settings)
    changed = fingerprint_of(write_table(tmp_path / "c", images={**images, "f": b"other"}),
                             tmp_path / "data", monkeypatch, **settings)
    assert one.digest == moved.digest
    assert one.differences(changed) == ["item content"]
    assert one.modality == "image"


@pytest.mark.parametrize("text", ["", "not json", '{"digest": "x"}'])
def test_a_run_without_a_readable_fingerprint_has_none(text):
    assert DataFingerprint.from_json(text) is None


def test_the_command_line_prints_and_exports_the_fingerprint(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from morec_tui.cli import app

    folder = write_table(tmp_path / "shop")
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data"))
    settings = ["--path", str(folder), "--set", "time_column=ts", "--set",
                "min_user_interactions=3"]
    runner = CliRunner()
    info = runner.invoke(app, ["data", "info", "table", *settings])
    assert info.exit_code == 0, info.output
    exported = runner.invoke(app, ["data", "fingerprint", "table", *settings, "--output",
                                   str(tmp_path / "fp.json")])
    assert exported.exit_code == 0, exported.output
    written = DataFingerprint.from_json((tmp_path / "fp.json").read_text())
    assert written is not None and written.describe() in info.output
    assert (written.users, written.items, written.interactions) == (3, 6, 14)


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "microlens-50k"


@pytest.mark.slow  # prepares microlens-50k twice
@pytest.mark.skipif(not SHARED.is_dir(), reason=f"real data not here: {SHARED}")
def test_microlens_prepared_in_two_places_has_one_fingerprint(tmp_path, monkeypatch):
    copies = []
    for name in ("a", "b"):
        copy = tmp_path / name / "microlens-50k"
        shutil.copytree(SHARED, copy)
        copies.append(copy)
    found = []
    for copy in copies:
        monkeypatch.setenv("MOREC_DATA_DIR", str(copy.parent / "data"))
        config = DataConfig(source="microlens", path=str(copy))
        prepared = ensure_prepared(config)
        found.append(fingerprint.of_prepared(prepared, load_prepared(prepared), "text"))
    assert found[0] == found[1]
    assert (found[0].users, found[0].items, found[0].interactions) == (50_000, 19_158, 352_494)
