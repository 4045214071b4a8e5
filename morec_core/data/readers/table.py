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
from morec_core.data.errors import DataError
from morec_core.data.raw import ContentSource, RawDataset, empty_items
from morec_core.data.readers.content import (
    joined_text,
    missing_file,
    require_mapped,
    text_columns,
    text_source,
)
from morec_core.data.tables import (
    TABLE_SUFFIXES,
    Table,
    read_table_file,
    require_file,
    require_folder,
)

NUMBER = r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*"


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


def catalogue_items(table: Table, id_column: str, ids: np.ndarray, config: DataConfig,
                    image_paths: object) -> tuple[pd.DataFrame, ContentSource]:
    """An items file as the items table: item (`ids`), title (data.text_columns joined, by
    default a `title` column), image_path (a list or one value for every row), and the file's
    other columns kept; and where the text came from."""
    columns = text_columns(table, config, ("title",))
    extra = table.frame.drop(columns=[id_column]).drop(columns=["title", "image_path"],
                                                       errors="ignore")
    items = extra.assign(item=ids, title=joined_text(table, columns), image_path=image_paths)
    return items, text_source(table, columns)


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
    name, timed = interactions_path.name, bool(config.time_column)
    if items_path is None:
        looked = ", ".join(f"items{suffix}" for suffix in TABLE_SUFFIXES)
        return RawDataset(name=str(path), interactions=interactions, items=empty_items(),
                          interactions_file=name, text_source=missing_file(looked),
                          timed=timed, image_source=ContentSource(absent="no items file"))
    catalogue = read_table_file(items_path)
    require_mapped(catalogue, "data.item_column", config.item_column)
    ids = catalogue.text(config.item_column, nonempty=True)
    catalogue.unique(config.item_column, ids)
    folder = path.resolve()
    if config.image_column:
        require_mapped(catalogue, "data.image_column", config.image_column)
        relative = catalogue.text(config.image_column)
        image_source = ContentSource(file=items_path.name, columns=(config.image_column,))
    elif config.image_pattern:
        relative = np.asarray([config.image_pattern.replace("{item}", item) for item in ids],
                              dtype=object)
        image_source = ContentSource(file=config.image_pattern)
    else:
        relative = np.full(len(ids), "", dtype=object)
        image_source = ContentSource(absent="data.image_column and data.image_pattern unset",
                                     hint="set data.image_pattern=images/{item}.jpg or "
                                          "data.image_column=COLUMN")
    images = [str(folder / name) if name and (folder / name).is_file() else ""
              for name in relative]
    items, text = catalogue_items(catalogue, config.item_column, ids, config, images)
    return RawDataset(name=str(path), interactions=interactions, items=items,
                      interactions_file=name, text_source=text, image_source=image_source,
                      timed=timed)


def table_files(path: Path, config: DataConfig) -> list[Path]:
    return [found for found in _layout(path, config) if found is not None]
