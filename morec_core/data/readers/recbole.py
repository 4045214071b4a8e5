"""`recbole`: RecBole atomic files `<name>.inter` and (optional) `<name>.item`.

Tab-separated with a typed header, e.g. `user_id:token<TAB>item_id:token<TAB>timestamp:float`.
Required in .inter: user_id and item_id; timestamp is used when present (else file order).
In .item: item_id plus a title field, the first of TITLE_FIELDS present (e.g. movie_title).
Values are text (RecBole's token_seq fields are space-separated text already).
`path` is the folder holding exactly one .inter file, or the .inter file itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.data.errors import DataError, excerpt
from morec_core.data.raw import RawDataset
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


def read_recbole(path: Path) -> RawDataset:
    inter_path = _inter_file(path)
    inter = read_atomic(inter_path)
    inter.require_columns("user_id", "item_id")
    has_time = "timestamp" in inter.frame.columns
    interactions = pd.DataFrame({
        "user": inter.text("user_id", nonempty=True),
        "item": inter.text("item_id", nonempty=True),
        "order": inter.numbers("timestamp") if has_time else np.arange(len(inter.frame)),
    })
    item_path = inter_path.with_suffix(".item")
    if item_path.exists():
        table = read_atomic(item_path)
        table.require_columns("item_id")
        ids = table.text("item_id", nonempty=True)
        table.unique("item_id", ids)
        title_field = next((name for name in TITLE_FIELDS if name in table.frame.columns), None)
        titles = table.text(title_field) if title_field else np.full(len(ids), "", dtype=object)
        items = table.frame.drop(columns=["item_id"]).assign(item=ids, title=titles,
                                                             image_path="")
    else:
        items = pd.DataFrame({"item": pd.Series(dtype=object), "title": pd.Series(dtype=object),
                              "image_path": pd.Series(dtype=object)})
    return RawDataset(name=str(path), interactions=interactions, items=items)


def recbole_files(path: Path) -> list[Path]:
    inter = _inter_file(path)
    item = inter.with_suffix(".item")
    return [inter] + ([item] if item.exists() else [])
