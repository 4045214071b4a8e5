"""Item content shared by the readers: which columns make the item text (`data.text_columns`),
which file holds them (`data.items_file`), and items files keyed by other ids than the
interactions (UniSRec's `<name>.text` by ASIN, mapped through `<name>.item2index`).

Every reader with item content reads its items file through these functions, so the two
settings mean the same thing for all of them, and the audit can say where the text came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from morec_core.config import DataConfig
from morec_core.data.errors import DataError, excerpt, shorten
from morec_core.data.raw import ContentSource
from morec_core.data.tables import Table, read_table, require_file

TEXT_HINT = "set data.items_file=FILE and data.text_columns=COLUMN[,COLUMN]"


def requested_columns(config: DataConfig) -> list[str]:
    """data.text_columns as a list ([] when unset: the reader's default applies)."""
    return [name.strip() for name in config.text_columns.split(",") if name.strip()]


def items_file(folder: Path, config: DataConfig, default: Path | None) -> Path | None:
    """data.items_file inside `folder` when set (then it must exist), else `default`."""
    if config.items_file:
        return require_file(folder / config.items_file)
    return default


def require_mapped(table: Table, setting: str, column: str) -> None:
    """A DataError naming the setting, the column and the columns the file does have."""
    if column not in table.frame.columns:
        found = shorten(", ".join(map(str, table.frame.columns)), 300)
        raise DataError(f"{setting} names a missing column (found: {found})", path=table.path,
                        field=column)


def joined_text(table: Table, columns: Sequence[str]) -> np.ndarray:
    """(rows,) object array: the named columns joined with " ", empty cells skipped."""
    for name in columns:
        require_mapped(table, "data.text_columns", name)
    if not columns:
        return np.full(len(table.frame), "", dtype=object)
    parts = [table.text(name) for name in columns]
    return np.asarray([" ".join(part for part in row if part) for row in zip(*parts, strict=True)],
                      dtype=object)


def text_columns(table: Table, config: DataConfig, defaults: Sequence[str]) -> list[str]:
    """data.text_columns when set, else the first of `defaults` the file has ([] if none)."""
    requested = requested_columns(config)
    if requested:
        return requested
    return next(([name] for name in defaults if name in table.frame.columns), [])


def text_source(table: Table, columns: Sequence[str], *, via: str = "",
                hint: str = TEXT_HINT) -> ContentSource:
    """Where the text of `table` came from; without columns, why it has none."""
    if columns:
        return ContentSource(file=table.path.name, columns=tuple(columns), via=via, hint=hint)
    found = shorten(", ".join(map(str, table.frame.columns)), 200)
    return ContentSource(absent=f"{table.path.name} has no text column (found: {found})",
                         hint=hint)


def missing_file(looked_for: str, hint: str = TEXT_HINT) -> ContentSource:
    return ContentSource(absent=f"no items file (looked for {looked_for})", hint=hint)


def read_id_map(path: Path) -> dict[str, str]:
    """A `<name>.item2index` / `<name>.user2index` file (raw id<TAB>index, no header) as
    raw id -> index, both as text; a repeated raw id or index is an error naming its line."""
    table = read_table(path, sep="\t", header=False, names=["raw", "index"], quoted=False)
    raw = table.text("raw", nonempty=True)
    index = table.text("index", nonempty=True)
    table.unique("raw", raw)
    table.unique("index", index)
    return dict(zip(raw.tolist(), index.tolist(), strict=True))


def key_by_interaction_ids(ids: np.ndarray, interaction_items: set[str], *, items_path: Path,
                           interactions_path: Path, mapping: dict[str, str] | None,
                           mapping_path: Path | None) -> tuple[np.ndarray, str]:
    """The items file's `ids` as interaction item ids, and the name of the mapping file used
    ('' when the ids are the interactions' own).

    The mapping is used when its keys name the file's ids (UniSRec's `.text` is keyed by ASIN,
    its `.inter` files by `item2index`'s integers); rows the mapping lacks become ''. Ids that
    match neither are an error naming both files and the first id."""
    if mapping is not None and mapping_path is not None:
        mapped = np.asarray([mapping.get(raw, "") for raw in ids.tolist()], dtype=object)
        if any(item in interaction_items for item in mapped.tolist() if item):
            return mapped, mapping_path.name
    if any(raw in interaction_items for raw in ids.tolist()):
        return ids, ""
    through = f" nor a key of {mapping_path.name}" if mapping_path is not None else ""
    example = next(iter(sorted(interaction_items)), "")
    raise DataError(f"none of its {len(ids):,} item ids is an item of {interactions_path.name}"
                    f"{through} (first unmatched: {excerpt(ids[0] if len(ids) else '')}; "
                    f"{interactions_path.name} has ids like {excerpt(example)})",
                    path=items_path)
