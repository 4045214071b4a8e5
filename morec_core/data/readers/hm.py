"""`hm`: the H&M Kaggle competition layout.

transactions_train.csv: t_dat (YYYY-MM-DD), customer_id, article_id, price, sales_channel_id.
articles.csv: article_id, prod_name, ..., detail_desc (some dumps add a leading unnamed index
column: extra columns are kept, never assumed absent).
images/<first 3 digits>/<10-digit article id>.jpg

The quirk: article ids are written as integers in the CSVs (108775015) but image files use the
10-digit zero-padded form (0108775015.jpg, in folder 010). Ids are padded to 10 digits here, so
raw ids, image paths and Kaggle's submission format all agree.

Order is the day (t_dat); purchases on one day keep their file order. Repeat purchases of an
article are removed by the common deduplication step. Item text is prod_name; detail_desc is
kept as a column (and appended with `with_description=True`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.data.errors import DataError
from morec_core.data.raw import RawDataset
from morec_core.data.tables import Table, read_table, require_folder

ID_DIGITS = 10


def padded_ids(table: Table, column: str) -> np.ndarray:
    """(rows,) object array of 10-digit zero-padded article ids."""
    numbers = table.integers(column)
    if (numbers < 0).any() or (numbers >= 10**ID_DIGITS).any():
        row = int(np.flatnonzero((numbers < 0) | (numbers >= 10**ID_DIGITS))[0])
        raise DataError(f"article id must have at most {ID_DIGITS} digits",
                        path=table.path, line=int(table.lines[row]), field=column)
    return np.char.zfill(numbers.astype(str), ID_DIGITS).astype(object)


def image_index(folder: Path) -> dict[str, str]:
    """10-digit id -> absolute path of images/<id[:3]>/<id>.jpg, listing each folder once."""
    found: dict[str, str] = {}
    root = folder.resolve()
    if not root.is_dir():
        return found
    with os.scandir(root) as groups:
        for group in groups:
            if not group.is_dir():
                continue
            with os.scandir(group.path) as files:
                for entry in files:
                    stem, suffix = os.path.splitext(entry.name)
                    if suffix.lower() == ".jpg" and stem[:3] == group.name:
                        found[stem] = os.path.join(group.path, entry.name)
    return found


def read_hm(path: Path, *, with_description: bool = False) -> RawDataset:
    folder = require_folder(path)
    transactions = read_table(folder / "transactions_train.csv", sep=",", header=True)
    transactions.require_columns("t_dat", "customer_id", "article_id")
    interactions = pd.DataFrame({
        "user": transactions.text("customer_id", nonempty=True),
        "item": padded_ids(transactions, "article_id"),
        "order": transactions.times("t_dat", "%Y-%m-%d"),
    })
    articles = read_table(folder / "articles.csv", sep=",", header=True)
    articles.require_columns("article_id", "prod_name")
    ids = padded_ids(articles, "article_id")
    articles.unique("article_id", ids)
    titles = articles.text("prod_name")
    if with_description and "detail_desc" in articles.frame.columns:
        described = articles.text("detail_desc")
        titles = np.asarray([f"{title}. {text}" if text else title
                             for title, text in zip(titles, described, strict=True)], dtype=object)
    images = image_index(folder / "images")
    items = articles.frame.drop(columns=["article_id"]).assign(
        item=ids, title=titles, image_path=[images.get(item, "") for item in ids])
    return RawDataset(name=str(path), interactions=interactions, items=items)


def hm_files(path: Path) -> list[Path]:
    folder = require_folder(path)
    images = folder / "images"
    return [folder / "transactions_train.csv", folder / "articles.csv"] + (
        [images] if images.is_dir() else [])
