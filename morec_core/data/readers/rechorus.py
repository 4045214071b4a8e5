"""`rechorus`: a ReChorus dataset folder, train.csv, dev.csv, test.csv (+ item text).

All tab-separated with a header: user_id, item_id, time (numbers); dev.csv and test.csv add a
neg_items column (sampled negatives), which is ignored: morec ranks against every item.
ReChorus' notebooks write them from one table sorted by (time, user): each user's first row
stays in train, the last goes to test and the one before to dev, and repeated (user, item)
pairs at other times are kept.

Item text, in this order: data.items_file when set; else a `<name>.text` file (item_id, text,
tab-separated, RecBole-typed header allowed) keyed by the csv item ids or, through a
`<name>.item2index` file (raw id<TAB>integer), by raw ids; else `item_meta.csv`. A
`<name>.user2index`, when there is one, must name every user of the csv files. The text is
data.text_columns joined with " " (default: a `text` or `title` column). ReChorus' own
item_meta.csv has none: its features are integer codes (i_category, i_brand), and a text
encoder on them would be a category-ID model, not MoRec (the data audit warns).

The rows of the three files are one interaction table in the order train, dev, test, each row
marked with the file it came from (`raw.SPLIT_COLUMN`), so that `data.split=given` can keep the
published split and `leave_one_out` re-derives one from time (file order on equal times).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.config import DataConfig
from morec_core.data.errors import DataError, excerpt
from morec_core.data.raw import SPLIT_COLUMN, TEST, TRAIN, VALID, ContentSource, RawDataset
from morec_core.data.readers.content import (
    items_file,
    joined_text,
    key_by_interaction_ids,
    missing_file,
    read_id_map,
    text_columns,
    text_source,
)
from morec_core.data.readers.recbole import FIELD_TYPES
from morec_core.data.tables import Table, read_table, require_folder

SPLIT_FILES = (("train.csv", TRAIN), ("dev.csv", VALID), ("test.csv", TEST))
ITEM_META = "item_meta.csv"
TEXT_COLUMNS = ("text", "title")
TEXT_HINT = ("put <name>.text (item_id<TAB>text) and, if it is keyed by raw ids, "
             "<name>.item2index beside the csv files, or set data.items_file=FILE and "
             "data.text_columns=COLUMN (item_meta.csv's i_* columns are codes, not text)")


def _one(folder: Path, pattern: str) -> Path | None:
    found = sorted(path for path in folder.glob(pattern) if path.is_file())
    if len(found) > 1:
        raise DataError(f"several {pattern} files ({', '.join(path.name for path in found)}); "
                        f"keep one or set data.items_file", path=folder)
    return found[0] if found else None


def _layout(path: Path, config: DataConfig
            ) -> tuple[list[Path], Path | None, Path | None, Path | None]:
    """The three split files, the items file, the item2index and user2index files (None when
    absent)."""
    folder = require_folder(path)
    missing = [name for name, _ in SPLIT_FILES if not (folder / name).is_file()]
    if missing:
        looked = ", ".join(name for name, _ in SPLIT_FILES)
        raise DataError(f"missing file {', '.join(missing)} (a ReChorus folder holds {looked} "
                        f"and optionally <name>.text, <name>.item2index, {ITEM_META})",
                        path=folder)
    meta = folder / ITEM_META
    default = _one(folder, "*.text") or (meta if meta.is_file() else None)
    return ([folder / name for name, _ in SPLIT_FILES], items_file(folder, config, default),
            _one(folder, "*.item2index"), _one(folder, "*.user2index"))


def _read_items_table(path: Path) -> Table:
    """A tab-separated items file; RecBole's `name:type` header fields lose their type."""
    table = read_table(path, sep="\t", header=True, quoted=False)
    names = [name.partition(":")[0] if name.partition(":")[2] in FIELD_TYPES else name
             for name in map(str, table.frame.columns)]
    return Table(path=path, frame=table.frame.set_axis(names, axis=1), lines=table.lines)


def read_rechorus(path: Path, config: DataConfig) -> RawDataset:
    split_paths, items_path, mapping_path, users_path = _layout(path, config)
    parts = []
    for split_path, (_, split) in zip(split_paths, SPLIT_FILES, strict=True):
        table = read_table(split_path, sep="\t", header=True, quoted=False)
        table.require_columns("user_id", "item_id", "time")
        parts.append(pd.DataFrame({
            "user": table.text("user_id", nonempty=True),
            "item": table.text("item_id", nonempty=True),
            "order": table.numbers("time"),
            SPLIT_COLUMN: np.full(len(table.frame), split, dtype=np.int64),
        }))
    interactions = pd.concat(parts, ignore_index=True)
    if users_path is not None:
        named = set(read_id_map(users_path).values())
        unknown = [user for user in pd.unique(interactions["user"]) if user not in named]
        if unknown:
            raise DataError(f"{len(unknown):,} users of the csv files (first "
                            f"{excerpt(unknown[0])}) have no line here", path=users_path)
    items, source = _read_items(items_path, mapping_path, config, set(interactions["item"]),
                                split_paths[0])
    return RawDataset(name=str(path), interactions=interactions, items=items,
                      interactions_file=split_paths[0].name, text_source=source)


def _read_items(items_path: Path | None, mapping_path: Path | None, config: DataConfig,
                interaction_items: set[str], train_path: Path
                ) -> tuple[pd.DataFrame, ContentSource]:
    if items_path is None:
        empty = pd.DataFrame({"item": pd.Series(dtype=object), "title": pd.Series(dtype=object),
                              "image_path": pd.Series(dtype=object)})
        return empty, missing_file(f"<name>.text or {ITEM_META}", TEXT_HINT)
    table = _read_items_table(items_path)
    table.require_columns("item_id")
    raw_ids = table.text("item_id", nonempty=True)
    table.unique("item_id", raw_ids)
    mapping = read_id_map(mapping_path) if mapping_path is not None else None
    ids, via = key_by_interaction_ids(raw_ids, interaction_items, items_path=items_path,
                                      interactions_path=train_path, mapping=mapping,
                                      mapping_path=mapping_path)
    mapped = ids != ""
    table.unique("item_id", np.where(mapped, ids, "\x00" + raw_ids))
    columns = text_columns(table, config, TEXT_COLUMNS)
    extra = table.frame.drop(columns=["item_id"]).drop(columns=["title", "image_path"],
                                                       errors="ignore")
    items = extra.assign(item=ids, title=joined_text(table, columns), image_path="")
    return (items.loc[mapped].reset_index(drop=True),
            text_source(table, columns, via=via, hint=TEXT_HINT))


def rechorus_files(path: Path, config: DataConfig) -> list[Path]:
    split_paths, *optional = _layout(path, config)
    return split_paths + [found for found in optional if found is not None]
