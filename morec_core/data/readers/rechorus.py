"""`rechorus`: a ReChorus dataset folder, train.csv, dev.csv, test.csv (+ item_meta.csv).

All tab-separated with a header: user_id, item_id, time (numbers); dev.csv and test.csv add a
neg_items column (sampled negatives), which is ignored: morec ranks against every item.
item_meta.csv (optional): item_id plus feature columns; the item text is data.text_columns
joined with " " (default: a `title` column when there is one).

The rows of the three files are one interaction table in the order train, dev, test, each row
marked with the file it came from (`raw.SPLIT_COLUMN`), so that `data.split=given` can keep the
published split and `leave_one_out` re-derives one from time (file order on equal times).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.config import DataConfig
from morec_core.data.errors import DataError
from morec_core.data.raw import SPLIT_COLUMN, TEST, TRAIN, VALID, RawDataset, empty_items
from morec_core.data.readers.table import catalogue_items
from morec_core.data.tables import read_table, require_folder

SPLIT_FILES = (("train.csv", TRAIN), ("dev.csv", VALID), ("test.csv", TEST))
ITEM_META = "item_meta.csv"


def _layout(path: Path) -> tuple[list[Path], Path | None]:
    folder = require_folder(path)
    missing = [name for name, _ in SPLIT_FILES if not (folder / name).is_file()]
    if missing:
        looked = ", ".join(name for name, _ in SPLIT_FILES)
        raise DataError(f"missing file {', '.join(missing)} (a ReChorus folder holds {looked} "
                        f"and optionally {ITEM_META})", path=folder)
    meta = folder / ITEM_META
    return [folder / name for name, _ in SPLIT_FILES], meta if meta.is_file() else None


def read_rechorus(path: Path, config: DataConfig) -> RawDataset:
    split_paths, meta_path = _layout(path)
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
    if meta_path is None:
        items = empty_items()
    else:
        meta = read_table(meta_path, sep="\t", header=True, quoted=False)
        meta.require_columns("item_id")
        ids = meta.text("item_id", nonempty=True)
        meta.unique("item_id", ids)
        items = catalogue_items(meta, "item_id", ids, config.text_columns, image_paths="")
    return RawDataset(name=str(path), interactions=interactions, items=items)


def rechorus_files(path: Path, config: DataConfig) -> list[Path]:
    split_paths, meta_path = _layout(path)
    return split_paths + ([meta_path] if meta_path is not None else [])
