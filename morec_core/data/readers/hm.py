"""`hm`: the H&M Kaggle competition layout.

transactions_train.csv: t_dat (YYYY-MM-DD), customer_id, article_id, price, sales_channel_id.
articles.csv: article_id, prod_name, ..., detail_desc (some dumps add a leading unnamed index
column: extra columns are kept, never assumed absent).
images/<first 3 digits>/<10-digit article id>.jpg

The quirk: article ids are written as integers in the CSVs (108775015) but image files use the
10-digit zero-padded form (0108775015.jpg, in folder 010). Ids are padded to 10 digits here, so
raw ids, image paths and Kaggle's submission format all agree.

Order is the day (t_dat); purchases on one day keep their file order. Repeat purchases of an
article are removed by the common deduplication step. Item text is data.text_columns joined, by
default prod_name (data.text_columns=prod_name,detail_desc adds the description); the other
columns are kept.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.config import DataConfig
from morec_core.data.errors import DataError
from morec_core.data.raw import ContentSource, RawDataset
from morec_core.data.readers.content import items_file, joined_text, text_columns, text_source
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


def _articles_file(folder: Path, config: DataConfig) -> Path:
    found = items_file(folder, config, folder / "articles.csv")
    assert found is not None  # a default is given
    return found


def read_hm(path: Path, config: DataConfig) -> RawDataset:
    folder = require_folder(path)
    transactions = read_table(folder / "transactions_train.csv", sep=",", header=True)
    transactions.require_columns("t_dat", "customer_id", "article_id")
    interactions = pd.DataFrame({
        "user": transactions.text("customer_id", nonempty=True),
        "item": padded_ids(transactions, "article_id"),
        "order": transactions.times("t_dat", "%Y-%m-%d"),
    })
    articles = read_table(_articles_file(folder, config), sep=",", header=True)
    articles.require_columns("article_id")
    ids = padded_ids(articles, "article_id")
    articles.unique("article_id", ids)
    columns = text_columns(articles, config, ("prod_name",))
    images = image_index(folder / "images")
    items = articles.frame.drop(columns=["article_id"]).assign(
        item=ids, title=joined_text(articles, columns),
        image_path=[images.get(item, "") for item in ids])
    image_source = (ContentSource(file="images/") if images else
                    ContentSource(absent="no images/<3 digits>/<10-digit id>.jpg files"))
    return RawDataset(name=str(path), interactions=interactions, items=items,
                      interactions_file=transactions.path.name,
                      text_source=text_source(articles, columns), image_source=image_source)


def hm_files(path: Path, config: DataConfig) -> list[Path]:
    folder = require_folder(path)
    images = folder / "images"
    return [folder / "transactions_train.csv", _articles_file(folder, config)] + (
        [images] if images.is_dir() else [])
