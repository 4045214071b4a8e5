"""What every reader returns: one interaction table and one item table, before preprocessing.

Readers keep the source's own ids (as strings) and its own notion of time; everything the paper
does to the data (deduplication, filters, truncation, id remapping) happens later, in
`preprocess.py`, identically for every source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

INTERACTION_COLUMNS = ("user", "item", "order")
# Readers of formats that publish their split (unisrec, rechorus) add this column to the
# interactions: 0 train, 1 validation target, 2 test target. `data.split=given` reads it.
SPLIT_COLUMN = "split"
TRAIN, VALID, TEST = 0, 1, 2
ITEM_COLUMNS = ("item", "title", "image_path")


def empty_items() -> pd.DataFrame:
    """The items table of a dataset without an items file: ITEM_COLUMNS, no rows. Object
    columns: a float64 empty frame would make a later fillna("") cast strings into floats (a
    pandas 4 error)."""
    return pd.DataFrame({column: pd.Series(dtype=object) for column in ITEM_COLUMNS})


@dataclass(frozen=True, kw_only=True)
class ContentSource:
    """Where a reader found the items' text (or images), for the data audit and its messages."""

    file: str = ""
    """The file or folder read, as named inside data.path; '' when there was none."""
    columns: tuple[str, ...] = ()
    """Its columns joined into the item text."""
    via: str = ""
    """The file mapping its ids to the interactions' ids (UniSRec's <name>.item2index)."""
    absent: str = ""
    """Why there is none (no items file, no title column...), when `file` is ''."""
    hint: str = ""
    """How to point morec at the content: the settings to set."""

    def describe(self) -> str:
        """e.g. "Scientific.text (column text), ids through Scientific.item2index"."""
        if not self.file:
            return self.absent or "no source"
        columns = (f" (column{'s' * (len(self.columns) > 1)} {', '.join(self.columns)})"
                   if self.columns else "")
        via = f", ids through {self.via}" if self.via else ""
        return f"{self.file}{columns}{via}"


NO_IMAGES = ContentSource(absent="the format has no images")


@dataclass(frozen=True, kw_only=True)
class RawDataset:
    name: str
    """Where the data came from (a folder or a file), used in messages."""
    interactions: pd.DataFrame
    """One row per interaction, in file order: user (str), item (str), order (numbers or times
    that sort chronologically; rows with equal order keep their file order)."""
    items: pd.DataFrame
    """One row per known item: item (str, unique), title (str, '' if none), image_path (str,
    absolute, '' if none), plus any source-specific columns. Items that interactions mention
    may be missing here (partial dumps such as mind-sample): they get no content."""
    interactions_file: str = ""
    """The file the interactions came from (its name), for messages."""
    text_source: ContentSource = ContentSource()
    """Where `items.title` came from, or why there is no text."""
    image_source: ContentSource = NO_IMAGES
    """Where `items.image_path` came from, or why there are no images."""
    timed: bool = True
    """Whether `order` holds times (False: positions in the file, e.g. UniSRec, pairs)."""

    def __post_init__(self) -> None:
        # A reader that breaks this contract is a bug in morec, not bad input.
        for frame, columns in ((self.interactions, INTERACTION_COLUMNS),
                               (self.items, ITEM_COLUMNS)):
            missing = [column for column in columns if column not in frame.columns]
            if missing:
                raise ValueError(f"{self.name}: reader produced no {missing[0]!r} column")
        order_kind = self.interactions["order"].to_numpy().dtype.kind
        if order_kind not in "iufM":
            raise ValueError(f"{self.name}: order must be numbers or times, got dtype {order_kind}")
        if self.items["item"].duplicated().any():
            raise ValueError(f"{self.name}: reader produced repeated item ids")


def content_mask(items: pd.DataFrame, modality: str) -> np.ndarray:
    """(len(items),) True where the item has what the modality's encoder reads."""
    if modality == "text":
        return (items["title"].str.strip() != "").to_numpy(dtype=bool)
    if modality == "image":
        return (items["image_path"] != "").to_numpy(dtype=bool)
    raise ValueError(f"unknown modality {modality!r}; known: text, image")


def require_content(raw: RawDataset, modality: str) -> tuple[RawDataset, int]:
    """Drop the interactions of items without text (modality "text") or without an image
    ("image"), and those items. Returns the filtered dataset and the number of interactions
    dropped.

    Why: a MoRec item encoder cannot embed an item it has no content for, and IDRec and MoRec
    must be compared on the same interactions, so both see the filtered data by default.
    """
    with_content = raw.items.loc[content_mask(raw.items, modality)]
    keep = raw.interactions["item"].isin(with_content["item"]).to_numpy()
    dropped = int((~keep).sum())
    interactions = raw.interactions.loc[keep].reset_index(drop=True)
    return RawDataset(name=raw.name, interactions=interactions,
                      items=with_content.reset_index(drop=True)), dropped


def natural_order(ids: np.ndarray) -> np.ndarray:
    """Permutation sorting string ids numerically when they all are integers, else as text.

    Deterministic and independent of file order, so the same raw data always gets the same
    internal ids. Integer-looking ids such as "01" and "1" tie numerically and are then ordered
    as text.
    """
    text = np.asarray(ids, dtype=str)
    if len(text) and np.char.isdigit(text).all() and np.char.str_len(text).max() <= 18:
        return np.lexsort((text, text.astype(np.int64)))
    return np.argsort(text, kind="stable")
