"""`recbole`: RecBole atomic files `<name>.inter` and (optional) `<name>.item`.

Tab-separated with a typed header, e.g. `user_id:token<TAB>item_id:token<TAB>timestamp:float`.
Required in .inter: user_id and item_id; timestamp is used when present (else file order).
In .item (or data.items_file): item_id plus the text, data.text_columns joined, by default the
first of TITLE_FIELDS present (e.g. movie_title).
Values are text (RecBole's token_seq fields are space-separated text already).
`path` is the folder holding exactly one .inter file, or the .inter file itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.config import DataConfig
from morec_core.data.errors import DataError, excerpt
from morec_core.data.raw import RawDataset, empty_items
from morec_core.data.readers.content import (
    items_file,
    joined_text,
    missing_file,
    text_columns,
    text_source,
)
from morec_core.data.tables import Table, read_table

TITLE_FIELDS = ("title", "movie_title", "item_title", "news_title", "name")
FIELD_TYPES = {"token", "token_seq", "float", "float_seq"}


def _inter_file(path: Path) -> Path:
    if path.suffix == ".inter":
        return path
    if not path.is_dir():
        raise DataError("missing folder or .inter file", path=path)
    found = sorted(path.glob("*.inter"))
    if len(found) != 1:
        names = ", ".join(item.name for item in found) or "none"
        raise DataError(f"expected exactly one .inter file, found {names}", path=path)
    return found[0]


def read_atomic(path: Path) -> Table:
    """Read an atomic file and strip the `:type` suffix of each header field."""
    table = read_table(path, sep="\t", header=True, quoted=False)
    names = []
    for column in table.frame.columns:
        name, colon, kind = str(column).partition(":")
        if not colon or kind not in FIELD_TYPES:
            raise DataError(f"header field {excerpt(column)} is not name:type with type in "
                            f"{', '.join(sorted(FIELD_TYPES))}", path=path, line=1)
        names.append(name)
    return Table(path=path, frame=table.frame.set_axis(names, axis=1), lines=table.lines)


def _item_file(inter_path: Path, config: DataConfig) -> Path | None:
    default = inter_path.with_suffix(".item")
    return items_file(inter_path.parent, config, default if default.exists() else None)


def read_recbole(path: Path, config: DataConfig) -> RawDataset:
    inter_path = _inter_file(path)
    inter = read_atomic(inter_path)
    inter.require_columns("user_id", "item_id")
    has_time = "timestamp" in inter.frame.columns
    interactions = pd.DataFrame({
        "user": inter.text("user_id", nonempty=True),
        "item": inter.text("item_id", nonempty=True),
        "order": inter.numbers("timestamp") if has_time else np.arange(len(inter.frame)),
    })
    item_path = _item_file(inter_path, config)
    if item_path is not None:
        table = read_atomic(item_path)
        table.require_columns("item_id")
        ids = table.text("item_id", nonempty=True)
        table.unique("item_id", ids)
        columns = text_columns(table, config, TITLE_FIELDS)
        items = table.frame.drop(columns=["item_id"]).assign(
            item=ids, title=joined_text(table, columns), image_path="")
        source = text_source(table, columns)
    else:
        items = empty_items()
        source = missing_file(inter_path.with_suffix(".item").name)
    return RawDataset(name=str(path), interactions=interactions, items=items,
                      interactions_file=inter_path.name, text_source=source, timed=has_time)


def recbole_files(path: Path, config: DataConfig) -> list[Path]:
    inter = _inter_file(path)
    item = _item_file(inter, config)
    return [inter] + ([item] if item is not None else [])
