"""`unisrec`: a UniSRec (RecBole) folder, <name>.train/valid/test.inter (+ <name>.text).

Each .inter line is user_id:token, item_id_list:token_seq (the history, oldest first, cut to
the latest 50 items by UniSRec's own preprocessing), item_id:token (the target). The train file
holds one line per prefix of a user's training items; valid and test hold one line per user.
<name>.text: item_id:token, text:token_seq.

A user's sequence is rebuilt without the 50-item cut: the history of the user's first line,
then every target in file order (train lines, then valid, then test). Targets are marked with
their file (`raw.SPLIT_COLUMN`); no timestamps are published, so the order is the file order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.config import DataConfig
from morec_core.data.errors import DataError
from morec_core.data.raw import SPLIT_COLUMN, TEST, TRAIN, VALID, RawDataset, empty_items
from morec_core.data.readers.recbole import read_atomic
from morec_core.data.tables import require_folder

SPLITS = ((".train.inter", TRAIN), (".valid.inter", VALID), (".test.inter", TEST))


def _layout(path: Path) -> tuple[list[Path], Path | None]:
    folder = require_folder(path)
    found = sorted(folder.glob("*.train.inter"))
    if len(found) != 1:
        names = ", ".join(item.name for item in found) or "none"
        raise DataError(f"expected exactly one <name>.train.inter (with <name>.valid.inter, "
                        f"<name>.test.inter and optionally <name>.text), found {names}",
                        path=folder)
    stem = found[0].name.removesuffix(".train.inter")
    paths = [folder / f"{stem}{suffix}" for suffix, _ in SPLITS]
    missing = [item.name for item in paths if not item.is_file()]
    if missing:
        raise DataError(f"missing file {', '.join(missing)} (looked for "
                        f"{', '.join(item.name for item in paths)})", path=folder)
    text = folder / f"{stem}.text"
    return paths, text if text.is_file() else None


def read_unisrec(path: Path, config: DataConfig) -> RawDataset:
    split_paths, text_path = _layout(path)
    users: list[str] = []
    items: list[str] = []
    splits: list[int] = []
    started: set[str] = set()
    for split_path, (_, split) in zip(split_paths, SPLITS, strict=True):
        table = read_atomic(split_path)
        table.require_columns("user_id", "item_id_list", "item_id")
        line_users = table.text("user_id", nonempty=True)
        histories = table.text("item_id_list")
        targets = table.text("item_id", nonempty=True)
        for user, history, target in zip(line_users, histories, targets, strict=True):
            if user not in started:
                # The first line of a user carries the items before the first target.
                started.add(user)
                earlier = history.split()
                users.extend([user] * len(earlier))
                items.extend(earlier)
                splits.extend([TRAIN] * len(earlier))
            users.append(user)
            items.append(target)
            splits.append(split)
    interactions = pd.DataFrame({
        "user": np.asarray(users, dtype=object), "item": np.asarray(items, dtype=object),
        "order": np.arange(len(items), dtype=np.int64),
        SPLIT_COLUMN: np.asarray(splits, dtype=np.int64)})
    if text_path is None:
        table_items = empty_items()
    else:
        text = read_atomic(text_path)
        text.require_columns("item_id", "text")
        ids = text.text("item_id", nonempty=True)
        text.unique("item_id", ids)
        table_items = pd.DataFrame({"item": ids, "title": text.text("text")})
    return RawDataset(name=str(path), interactions=interactions,
                      items=table_items.assign(image_path=""))


def unisrec_files(path: Path, config: DataConfig) -> list[Path]:
    split_paths, text_path = _layout(path)
    return split_paths + ([text_path] if text_path is not None else [])
