"""`pairs` and `microlens`: one line per user, items in chronological order.

Users file (the paper code's `*_users.tsv`, MicroLens' `MicroLens-50k_pairs.tsv`):
    user<TAB>item item item ...        (LF or CRLF line ends)
Items file, optional: `item,title` CSV (MicroLens' `*_titles.csv`) or `item<TAB>title` TSV, with
or without a header (a header is recognised by its first field: item, item_id, id, ...);
data.items_file names another, data.text_columns its text columns.
Images, optional: a folder `images/` or `covers/` (MicroLens: `MicroLens-50k_covers/`) holding
`<item>.jpg` (or .jpeg, .png, .webp).

There are no timestamps: `order` is the position on the line. A user on two lines, a line
without a tab or without items, and a repeated id in the items file are errors naming the line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.config import DataConfig
from morec_core.data.errors import DataError, excerpt
from morec_core.data.raw import ContentSource, RawDataset, empty_items
from morec_core.data.readers.content import (
    items_file,
    joined_text,
    missing_file,
    text_columns,
    text_source,
)
from morec_core.data.readers.images import list_images
from morec_core.data.tables import (
    Table,
    first_line,
    read_lines,
    read_table,
    require_file,
    require_folder,
)

USERS_PATTERNS = ("*_users.tsv", "*users.tsv", "*_pairs.tsv", "*pairs.tsv")
ITEMS_PATTERNS = ("*_items.tsv", "*_items.csv", "*_titles.csv", "*_titles.tsv", "items.tsv",
                  "items.csv", "titles.csv")
IMAGE_FOLDERS = ("images", "covers")
ITEM_HEADERS = {"item", "item_id", "itemid", "id", "video_id", "news_id", "iid"}
# A users file's header line, e.g. "user<TAB>items" or RecBole's
# "user_id:token<TAB>item_id_list:token_seq": both fields must be such names (the ":type"
# suffix dropped), so that a user really named "user" is still read as one.
USER_HEADERS = {"user", "users", "user_id", "userid", "uid"}
SEQUENCE_HEADERS = {"item", "items", "item_id", "item_ids", "item_id_list", "item_list",
                    "sequence", "seq", "history"}

MICROLENS_USERS = "MicroLens-50k_pairs.tsv"
MICROLENS_ITEMS = "MicroLens-50k_titles.csv"
MICROLENS_IMAGES = "MicroLens-50k_covers"


def _match(folder: Path, patterns: tuple[str, ...], what: str) -> Path | None:
    """The one file matching `patterns`, None if there is none; several are an error."""
    matches = sorted({found for pattern in patterns for found in folder.glob(pattern)
                      if found.is_file()})
    if len(matches) > 1:
        names = ", ".join(found.name for found in matches)
        raise DataError(f"several {what} files ({names}); keep one", path=folder)
    return matches[0] if matches else None


def _layout(path: Path, config: DataConfig) -> tuple[Path, Path | None, Path | None]:
    folder = require_folder(path)
    users = _match(folder, USERS_PATTERNS, "users")
    if users is None:
        raise DataError(f"no users file (expected one of {', '.join(USERS_PATTERNS)})",
                        path=folder)
    items = items_file(folder, config, None) or _match(folder, ITEMS_PATTERNS, "items")
    images = next((folder / name for name in IMAGE_FOLDERS if (folder / name).is_dir()), None)
    return users, items, images


def _microlens_layout(path: Path, config: DataConfig
                      ) -> tuple[Path, Path | None, Path | None]:
    folder = require_folder(path)
    items = folder / MICROLENS_ITEMS
    images = folder / MICROLENS_IMAGES
    return (folder / MICROLENS_USERS,
            items_file(folder, config, items if items.exists() else None),
            images if images.is_dir() else None)


def is_header(line: str) -> bool:
    """Whether the first line of a users file names its two columns instead of a user."""
    user, tab, rest = line.partition("\t")
    fields = rest.split()
    return bool(tab) and len(fields) == 1 and all(
        name.partition(":")[0].strip().lower() in names
        for name, names in ((user, USER_HEADERS), (fields[0], SEQUENCE_HEADERS)))


def read_users(path: Path) -> pd.DataFrame:
    """The users file as interactions (user, item, order = position on the line); a header
    line (`is_header`) is skipped."""
    users: list[str] = []
    counts: list[int] = []
    items: list[str] = []
    first_line: dict[str, int] = {}
    seen_content = False
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        if not seen_content:
            seen_content = True
            if is_header(line):
                continue
        user, tab, rest = line.partition("\t")
        user = user.strip()
        if not tab or not user:
            raise DataError("expected 'user<TAB>item item ...'", path=path, line=number)
        if user in first_line:
            raise DataError(f"user {excerpt(user)} already listed on line {first_line[user]}",
                            path=path, line=number)
        first_line[user] = number
        line_items = rest.split()
        if not line_items:
            raise DataError(f"user {excerpt(user)} has no items", path=path, line=number)
        users.append(user)
        counts.append(len(line_items))
        items.extend(line_items)
    if not users:
        raise DataError("no users", path=path)
    repeats = np.asarray(counts, dtype=np.int64)
    starts = np.repeat(np.cumsum(repeats) - repeats, repeats)
    return pd.DataFrame({
        "user": np.repeat(np.asarray(users, dtype=object), repeats),
        "item": np.asarray(items, dtype=object),
        "order": np.arange(len(items), dtype=np.int64) - starts,
    })


def read_items(path: Path, config: DataConfig) -> tuple[pd.DataFrame, ContentSource]:
    """The items file as (item, title), extra columns kept; title is data.text_columns joined
    (default: a `title` column, else the second column; without a header the columns are
    named 0, 1, 2, ...). And where the text came from."""
    tsv = path.suffix.lower() == ".tsv"
    sep = "\t" if tsv else ","
    first = first_line(require_file(path))
    has_header = first.split(sep)[0].strip().strip('"').lower() in ITEM_HEADERS
    table = read_table(path, sep=sep, header=has_header, quoted=not tsv)
    table = Table(path=path, frame=table.frame.set_axis(list(map(str, table.frame.columns)),
                                                        axis=1), lines=table.lines)
    columns = list(table.frame.columns)
    if len(columns) < 2:
        raise DataError("expected at least two columns: item and title", path=path)
    text = text_columns(table, config, ("title", columns[1]))
    ids = table.text(columns[0], nonempty=True)
    table.unique(columns[0], ids)
    extra = table.frame.drop(columns=[columns[0], *[name for name in ("title",) if name in
                                                    columns]])
    frame = pd.DataFrame({"item": ids, "title": joined_text(table, text)}).join(
        extra.drop(columns=[name for name in text if name in extra.columns]))
    return frame, text_source(table, text)


def _read(name: str, users: Path, items: Path | None, images: Path | None,
          config: DataConfig) -> RawDataset:
    interactions = read_users(users)
    if items is not None:
        table, text = read_items(items, config)
    else:
        table = empty_items()
        text = missing_file(", ".join(ITEMS_PATTERNS),
                            hint="put an item,title CSV beside the users file or set "
                                 "data.items_file=FILE")
    stems = list_images(images) if images is not None else {}
    known = pd.Index(table["item"]).union(pd.Index(list(stems)), sort=False)
    table = table.set_index("item").reindex(known).reset_index(names="item")
    table["title"] = table["title"].fillna("").astype(str)
    table["image_path"] = [stems.get(item, "") for item in table["item"]]
    image_source = (ContentSource(file=f"{images.name}/") if images is not None else
                    ContentSource(absent=f"no image folder ({', '.join(IMAGE_FOLDERS)})"))
    return RawDataset(name=name, interactions=interactions, items=table.fillna(""),
                      interactions_file=users.name, text_source=text,
                      image_source=image_source, timed=False)


def read_pairs(path: Path, config: DataConfig) -> RawDataset:
    return _read(str(path), *_layout(path, config), config)


def pairs_files(path: Path, config: DataConfig) -> list[Path]:
    return [found for found in _layout(path, config) if found is not None]


def read_microlens(path: Path, config: DataConfig) -> RawDataset:
    return _read(str(path), *_microlens_layout(path, config), config)


def microlens_files(path: Path, config: DataConfig) -> list[Path]:
    return [found for found in _microlens_layout(path, config) if found is not None]
