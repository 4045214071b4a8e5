"""`unisrec`: a UniSRec (RecBole atomic) folder, as UniSRec's Amazon preprocessing writes it:
<name>.train/valid/test.inter, <name>.text, <name>.item2index, <name>.user2index.

Each .inter line is user_id:token, item_id_list:token_seq (the history, oldest first, cut to the
latest 50 items), item_id:token (the target). For a user whose training items are t_1..t_n, the
train file holds n - 1 lines, written from the LAST target backwards: targets t_n, t_n-1, ...,
t_2, each after the (cut) items before it, so the user's first train line has the longest
history and the last one the history [t_1]. valid and test hold one line per user (targets v
and x, histories the latest 50 of t_1..t_n and of t_1..t_n, v).

A user's sequence is rebuilt as the history of the user's LAST train line, then the train
targets from that line up to the user's first train line, then v, then x; every history is
then checked against it (it must be the latest items before its target, cut as the file cuts),
so a file written in another order stops with the file, the line and the user. Targets are
marked with their file (`raw.SPLIT_COLUMN`); no timestamps are published: `order` is the
position in the rebuilt sequence.

Ids: the .inter files use integer ids; <name>.item2index (ASIN<TAB>integer, no header) maps the
raw ids that key <name>.text (item_id:token, text:token_seq) to them. The item ids kept are the
.inter ids; <name>.user2index, when present, must name every .inter user.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.config import DataConfig
from morec_core.data.errors import DataError, excerpt
from morec_core.data.raw import (
    SPLIT_COLUMN,
    TEST,
    TRAIN,
    VALID,
    ContentSource,
    RawDataset,
    empty_items,
)
from morec_core.data.readers.content import (
    items_file,
    joined_text,
    key_by_interaction_ids,
    missing_file,
    read_id_map,
    text_columns,
    text_source,
)
from morec_core.data.readers.recbole import read_atomic
from morec_core.data.tables import Table, require_folder

SPLITS = ((".train.inter", TRAIN), (".valid.inter", VALID), (".test.inter", TEST))
TEXT_HINT = ("set data.items_file=<the text file> (item_id:token, text:token_seq, keyed by the "
             ".inter ids or by <name>.item2index's raw ids) and data.text_columns")


@dataclass(frozen=True, kw_only=True)
class Layout:
    splits: list[Path]
    """train, valid, test .inter files."""
    text: Path | None
    item2index: Path | None
    user2index: Path | None

    def files(self) -> list[Path]:
        optional = [self.text, self.item2index, self.user2index]
        return self.splits + [path for path in optional if path is not None]


def _layout(path: Path, config: DataConfig) -> Layout:
    folder = require_folder(path)
    found = sorted(folder.glob("*.train.inter"))
    if len(found) != 1:
        names = ", ".join(item.name for item in found) or "none"
        raise DataError(f"expected exactly one <name>.train.inter (with <name>.valid.inter, "
                        f"<name>.test.inter and optionally <name>.text, <name>.item2index), "
                        f"found {names}", path=folder)
    stem = found[0].name.removesuffix(".train.inter")
    paths = [folder / f"{stem}{suffix}" for suffix, _ in SPLITS]
    missing = [item.name for item in paths if not item.is_file()]
    if missing:
        raise DataError(f"missing file {', '.join(missing)} (looked for "
                        f"{', '.join(item.name for item in paths)})", path=folder)

    def optional(suffix: str) -> Path | None:
        candidate = folder / f"{stem}{suffix}"
        return candidate if candidate.is_file() else None

    return Layout(splits=paths, text=items_file(folder, config, optional(".text")),
                  item2index=optional(".item2index"), user2index=optional(".user2index"))


@dataclass
class _Lines:
    """One user's lines of the three files, in file order."""

    train: list[tuple[int, list[str], str]] = field(default_factory=list)
    """(physical line, history, target) of each train line."""
    valid: list[tuple[int, list[str], str]] = field(default_factory=list)
    test: list[tuple[int, list[str], str]] = field(default_factory=list)


def _read_lines(split_paths: list[Path]) -> tuple[dict[str, _Lines], list[Table]]:
    users: dict[str, _Lines] = defaultdict(_Lines)
    tables = []
    for split_path, (_, split) in zip(split_paths, SPLITS, strict=True):
        table = read_atomic(split_path)
        table.require_columns("user_id", "item_id_list", "item_id")
        rows = zip(table.lines.tolist(), table.text("user_id", nonempty=True).tolist(),
                   table.text("item_id_list").tolist(),
                   table.text("item_id", nonempty=True).tolist(), strict=True)
        for line, user, history, target in rows:
            lines = users[user]
            kept = lines.train if split == TRAIN else lines.valid if split == VALID else lines.test
            kept.append((line, history.split(), target))
        tables.append(table)
    return users, tables


def _rebuild(user: str, lines: _Lines) -> tuple[list[str], list[int]]:
    """(items, split of each item) of one user, as the module docstring says."""
    if lines.train:
        # The last train line holds the earliest target and the whole history before it.
        train = lines.train[-1][1] + [target for _, _, target in reversed(lines.train)]
    elif lines.valid:
        train = list(lines.valid[0][1])  # no train line: one training item, or none
    else:
        train = list(lines.test[0][1]) if lines.test else []
    items = train + [target for _, _, target in lines.valid] + [target for _, _, target
                                                                in lines.test]
    splits = [TRAIN] * len(train) + [VALID] * len(lines.valid) + [TEST] * len(lines.test)
    return items, splits


def _check(user: str, lines: _Lines, items: list[str], cut: int, paths: list[Path]) -> None:
    """Every line's history must be the latest `cut` items before its target."""
    train_size = len(items) - len(lines.valid) - len(lines.test)
    # Positions of the targets in `items`: train lines run from the last target backwards.
    placed = [(paths[0], line, history, target, train_size - 1 - rank)
              for rank, (line, history, target) in enumerate(lines.train)]
    placed += [(paths[1], line, history, target, train_size + rank)
               for rank, (line, history, target) in enumerate(lines.valid)]
    placed += [(paths[2], line, history, target, train_size + len(lines.valid) + rank)
               for rank, (line, history, target) in enumerate(lines.test)]
    for path, line, history, target, position in placed:
        expected = items[max(0, position - cut):position]
        if position < 0 or history != expected or items[position] != target:
            raise DataError(
                f"user {excerpt(user)}: the history does not hold the latest {cut} items before "
                f"its target in the sequence rebuilt from UniSRec's layout (a user's train "
                f"lines run from the last target backwards; valid and test follow): expected "
                f"{excerpt(' '.join(expected[-5:]))} at its end, got "
                f"{excerpt(' '.join(history[-5:]))}", path=path, line=line)


def _check_users(users: dict[str, _Lines], path: Path) -> None:
    """<name>.user2index must name every user of the .inter files (by its integer)."""
    named = set(read_id_map(path).values())
    unknown = [user for user in users if user not in named]
    if unknown:
        raise DataError(f"{len(unknown):,} users of the .inter files (first "
                        f"{excerpt(unknown[0])}) have no line here", path=path)


def read_unisrec(path: Path, config: DataConfig) -> RawDataset:
    layout = _layout(path, config)
    users, tables = _read_lines(layout.splits)
    # UniSRec cuts histories to 50 items; a file with only shorter histories was cut at no
    # more than its longest one.
    cut = max((len(history) for lines in users.values()
               for _, history, _ in [*lines.train, *lines.valid, *lines.test]), default=0)
    frames = []
    for user, lines in users.items():
        items, splits = _rebuild(user, lines)
        _check(user, lines, items, max(cut, 1), layout.splits)
        frames.append((user, items, splits))
    if layout.user2index is not None:
        _check_users(users, layout.user2index)
    lengths = np.asarray([len(items) for _, items, _ in frames], dtype=np.int64)
    interactions = pd.DataFrame({
        "user": np.repeat(np.asarray([user for user, _, _ in frames], dtype=object), lengths),
        "item": np.asarray([item for _, items, _ in frames for item in items], dtype=object),
        # The position in the rebuilt sequence: UniSRec publishes no times.
        "order": np.concatenate([np.arange(size, dtype=np.int64) for size in lengths])
        if len(lengths) else np.zeros(0, dtype=np.int64),
        SPLIT_COLUMN: np.asarray([split for _, _, splits in frames for split in splits],
                                 dtype=np.int64)})
    items, source = _read_text(layout, config, set(interactions["item"]))
    return RawDataset(name=str(path), interactions=interactions, items=items.assign(image_path=""),
                      interactions_file=tables[0].path.name, text_source=source, timed=False)


def _read_text(layout: Layout, config: DataConfig, interaction_items: set[str]
               ) -> tuple[pd.DataFrame, ContentSource]:
    if layout.text is None:
        stem = layout.splits[0].name.removesuffix(".train.inter")
        return empty_items(), missing_file(f"{stem}.text", TEXT_HINT)
    table = read_atomic(layout.text)
    table.require_columns("item_id")
    columns = text_columns(table, config, ("text",))
    raw_ids = table.text("item_id", nonempty=True)
    table.unique("item_id", raw_ids)
    mapping = read_id_map(layout.item2index) if layout.item2index is not None else None
    ids, via = key_by_interaction_ids(raw_ids, interaction_items, items_path=layout.text,
                                      interactions_path=layout.splits[0], mapping=mapping,
                                      mapping_path=layout.item2index)
    # Two raw ids mapped onto one .inter id: the later line is named.
    mapped = ids != ""
    table.unique("item_id", np.where(mapped, ids, "\x00" + raw_ids))
    items = pd.DataFrame({"item": ids[mapped], "title": joined_text(table, columns)[mapped]})
    return items, text_source(table, columns, via=via, hint=TEXT_HINT)


def unisrec_files(path: Path, config: DataConfig) -> list[Path]:
    return _layout(path, config).files()
