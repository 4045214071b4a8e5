"""Integration on the real samples in ../shared/data, checked against counts made here with
plain pandas (no morec code) and against the counts its README lists."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from morec_core.config import DataConfig
from morec_core.data.prepare import ensure_prepared, load_prepared, load_report, prepare
from morec_core.data.readers import READERS
from morec_core.data.stats import dataset_stats

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(not SHARED_DATA.is_dir(),
                       reason=f"real data samples not found at {SHARED_DATA}"),
]


def _latest(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """Independent paper preprocessing: (user, item, order) rows -> dedup, 5-core, latest n."""
    ordered = frame.sort_values(["user", "order"], kind="stable")
    unique = ordered.drop_duplicates(["user", "item"], keep="first")
    sizes = unique.groupby("user")["item"].transform("size")
    return unique[sizes >= 5].groupby("user").tail(n)


def _counts(frame: pd.DataFrame) -> tuple[int, int, int]:
    return frame["user"].nunique(), frame["item"].nunique(), len(frame)


@pytest.fixture(scope="module")
def microlens_frame() -> pd.DataFrame:
    pairs = pd.read_csv(SHARED_DATA / "microlens-50k" / "MicroLens-50k_pairs.tsv", sep="\t",
                        header=None, names=["user", "items"], dtype=str)
    pairs["item"] = pairs["items"].str.split()
    frame = pairs.explode("item")[["user", "item"]]
    frame["order"] = frame.groupby("user").cumcount()
    return frame.reset_index(drop=True)


def test_microlens_matches_pandas_and_the_readme(microlens_frame, data_root):
    folder = str(SHARED_DATA / "microlens-50k")
    full = _latest(microlens_frame, 10**6)
    assert _counts(full) == (50_000, 19_220, 359_708)
    whole = prepare(DataConfig(source="microlens", path=folder, max_seq_len=10**6))
    assert (whole.num_users, whole.num_items, whole.num_interactions) == _counts(full)

    expected = _latest(microlens_frame, 23)
    assert len(expected) == 352_494
    config = DataConfig(source="microlens", path=folder, max_seq_len=23)
    dataset = prepare(config)
    assert (dataset.num_users, dataset.num_items, dataset.num_interactions) == _counts(expected)
    stats = dataset_stats(dataset)
    assert (stats.train, stats.valid, stats.test) == (352_494 - 100_000, 50_000, 50_000)

    # Same sequences, item by item, in raw ids.
    by_user = expected.groupby("user")["item"].agg(list).to_dict()
    raw = np.asarray(dataset.content.raw_ids, dtype=object)
    for index in range(0, dataset.num_users, 97):
        user = dataset.raw_user_ids[index]
        assert raw[dataset.sequence(index)].tolist() == by_user[user]

    started = time.perf_counter()
    load_prepared(ensure_prepared(config))
    assert time.perf_counter() - started < 2.0


def _movielens_frame(with_poster: bool) -> pd.DataFrame:
    root = SHARED_DATA / "movielens-small-posters"
    ratings = pd.read_csv(root / "ratings.csv")
    if with_poster:
        posters = {int(name.stem) for name in (root / "posters").glob("*.jpg")}
        ratings = ratings[ratings["movieId"].isin(posters)]
    return pd.DataFrame({"user": ratings["userId"], "item": ratings["movieId"],
                         "order": ratings["timestamp"]})


@pytest.mark.parametrize("modality, with_poster", [("image", True), ("text", False)])
def test_movielens_last_13_matches_pandas_and_the_readme(data_root, modality, with_poster):
    expected = _counts(_latest(_movielens_frame(with_poster), 13))
    folder = SHARED_DATA / "movielens-small-posters"
    dataset = prepare(DataConfig(source="movielens", path=str(folder), modality=modality,
                                 max_seq_len=13))
    assert (dataset.num_users, dataset.num_items, dataset.num_interactions) == expected
    if modality == "image":
        assert expected == (610, 2_929, 7_930)
        assert all(Path(path).is_file() for path in dataset.content.image_paths[1:])


def test_mind_sample_parses_with_its_quirks(data_root):
    folder = SHARED_DATA / "mind-sample"
    behaviors = pd.read_csv(folder / "behaviors.tsv", sep="\t", header=None, dtype=str,
                            quoting=csv.QUOTE_NONE, keep_default_na=False,
                            names=["impression", "user", "time", "history", "impressions"])
    news = pd.read_csv(folder / "news.tsv", sep="\t", header=None, dtype=str,
                       quoting=csv.QUOTE_NONE, keep_default_na=False)
    clicked = (behaviors["history"] + " " + behaviors["impressions"].str.split().map(
        lambda tokens: " ".join(t[:-2] for t in tokens if t.endswith("-1")))).str.split()
    pairs = pd.DataFrame({"user": behaviors["user"], "item": clicked}).explode("item")
    pairs = pairs.dropna().drop_duplicates()
    config = DataConfig(source="mind", path=str(folder))

    report = load_report(ensure_prepared(config, require_content=False))
    deduplicated = next(step for step in report.steps if step.step == "deduplicated")
    assert (deduplicated.users, deduplicated.items, deduplicated.interactions) == (
        pairs["user"].nunique(), pairs["item"].nunique(), len(pairs))

    with_news = pairs["item"].isin(set(news[0]))
    assert with_news.mean() < 0.1  # the README's partial dump: few clicked ids have a row
    report = load_report(ensure_prepared(config))
    assert report.steps[1].step.startswith("items with text (")
    deduplicated = next(step for step in report.steps if step.step == "deduplicated")
    assert deduplicated.interactions == with_news.sum()
    dataset = prepare(config)
    assert all(title for title in dataset.content.titles[1:])


def test_hm_sample_parses_with_its_quirks(data_root):
    folder = SHARED_DATA / "hm-sample"
    transactions = pd.read_csv(folder / "transactions_train.csv", dtype=str)
    raw = READERS["hm"].read(folder, DataConfig())
    assert raw.interactions["item"].str.fullmatch(r"\d{10}").all()
    unpadded = raw.interactions["item"].str.lstrip("0")
    assert (unpadded == transactions["article_id"].str.lstrip("0")).all()
    with_image = raw.items[raw.items["image_path"] != ""]
    assert len(with_image) == len(list((folder / "images").glob("*/*.jpg"))) == 271
    for item, path in zip(with_image["item"], with_image["image_path"], strict=True):
        assert Path(path) == (folder / "images" / item[:3] / f"{item}.jpg").resolve()
    config = DataConfig(source="hm", path=str(folder), min_user_interactions=3)
    report = load_report(ensure_prepared(config, require_content=False))
    deduplicated = next(step for step in report.steps if step.step == "deduplicated")
    assert deduplicated.interactions == len(
        transactions.drop_duplicates(["customer_id", "article_id"]))
