"""`table`: any interactions table (.csv, .tsv or .parquet) and an optional items table, read
through a column mapping in `DataConfig` (data.user_column, data.item_column, ...).

Time: data.time_column holds numbers (e.g. Unix seconds) or ISO 8601 times; without it the file
order is the order. Text: data.text_columns joined with " " (default: a `title` column when the
items table has one). Images: data.image_column (a path relative to data.path) or
data.image_pattern ("images/{item}.jpg"); an image file that does not exist gives no image.
A mapping that names a column the file lacks is an error listing the columns it has.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.config import DataConfig
from morec_core.data.errors import DataError, shorten
from morec_core.data.raw import RawDataset, empty_items
from morec_core.data.tables import (
    TABLE_SUFFIXES,
    Table,
    read_table_file,
    require_file,
    require_folder,
)

NUMBER = r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*"


def require_mapped(table: Table, setting: str, column: str) -> None:
    """A DataError naming the setting, the column and the columns the file does have."""
    if column not in table.frame.columns:
        found = shorten(", ".join(map(str, table.frame.columns)), 300)
        raise DataError(f"{setting} names a missing column (found: {found})", path=table.path,
                        field=column)


def _find(folder: Path, named: str, stem: str, *, required: bool) -> Path | None:
    """data.<x>_file when set (then it must exist), else the one of stem.csv/.tsv/.parquet."""
    if named:
        return require_file(folder / named)
    candidates = [folder / f"{stem}{suffix}" for suffix in TABLE_SUFFIXES]
    found = [path for path in candidates if path.is_file()]
    if len(found) > 1:
        raise DataError(f"several {stem} files ({', '.join(path.name for path in found)}); keep "
                        f"one or set data.{stem}_file", path=folder)
    if not found and required:
        names = ", ".join(path.name for path in candidates)
        raise DataError(f"missing file: looked for {names} (or set data.{stem}_file)",
                        path=folder)
    return found[0] if found else None


def _layout(path: Path, config: DataConfig) -> tuple[Path, Path | None]:
    folder = require_folder(path)
    interactions = _find(folder, config.interactions_file, "interactions", required=True)
    assert interactions is not None  # required=True raises instead
    return interactions, _find(folder, config.items_file, "items", required=False)


def order_of(table: Table, column: str) -> np.ndarray:
    """(rows,) float64 numbers or datetime64[s] ISO 8601 times, whichever the column holds."""
    if table.frame[column].str.fullmatch(NUMBER).all():
        return table.numbers(column)
    return table.times(column, "ISO8601")


def item_texts(table: Table, text_columns: str) -> np.ndarray:
    """(rows,) the named columns joined with " " (empty ones skipped); default: `title`."""
    names = [name.strip() for name in text_columns.split(",") if name.strip()]
    if not names:
        names = ["title"] if "title" in table.frame.columns else []
    for name in names:
        require_mapped(table, "data.text_columns", name)
    if not names:
        return np.full(len(table.frame), "", dtype=object)
    parts = [table.text(name) for name in names]
    return np.asarray([" ".join(part for part in row if part) for row in zip(*parts, strict=True)],
                      dtype=object)


def catalogue_items(table: Table, id_column: str, ids: np.ndarray, text_columns: str,
                    image_paths: object) -> pd.DataFrame:
    """An items file as the items table: item (`ids`), title (`item_texts`), image_path (a list
    or one value for every row), and the file's other columns kept."""
    extra = table.frame.drop(columns=[id_column]).drop(columns=["title", "image_path"],
                                                       errors="ignore")
    return extra.assign(item=ids, title=item_texts(table, text_columns), image_path=image_paths)


def read_table_source(path: Path, config: DataConfig) -> RawDataset:
    interactions_path, items_path = _layout(path, config)
    table = read_table_file(interactions_path)
    require_mapped(table, "data.user_column", config.user_column)
    require_mapped(table, "data.item_column", config.item_column)
    if config.time_column:
        require_mapped(table, "data.time_column", config.time_column)
    interactions = pd.DataFrame({
        "user": table.text(config.user_column, nonempty=True),
        "item": table.text(config.item_column, nonempty=True),
        "order": (order_of(table, config.time_column) if config.time_column
                  else np.arange(len(table.frame), dtype=np.int64)),
    })
    if items_path is None:
        return RawDataset(name=str(path), interactions=interactions, items=empty_items())
    catalogue = read_table_file(items_path)
    require_mapped(catalogue, "data.item_column", config.item_column)
    ids = catalogue.text(config.item_column, nonempty=True)
    catalogue.unique(config.item_column, ids)
    folder = path.resolve()
    if config.image_column:
        require_mapped(catalogue, "data.image_column", config.image_column)
        relative = catalogue.text(config.image_column)
    elif config.image_pattern:
        relative = np.asarray([config.image_pattern.replace("{item}", item) for item in ids],
                              dtype=object)
    else:
        relative = np.full(len(ids), "", dtype=object)
    images = [str(folder / name) if name and (folder / name).is_file() else ""
              for name in relative]
    items = catalogue_items(catalogue, config.item_column, ids, config.text_columns, images)
    return RawDataset(name=str(path), interactions=interactions, items=items)


def table_files(path: Path, config: DataConfig) -> list[Path]:
    return [found for found in _layout(path, config) if found is not None]
