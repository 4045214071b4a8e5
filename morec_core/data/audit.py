"""What the data holds before anything trains on it: item content and where it came from,
repeated pairs, targets that repeat earlier items, tied timestamps.

`audit(raw, config)` reads a reader's `RawDataset` (before the content filter, so the counts
are the reader's own) and is stored with the prepared dataset (`PrepareReport.audit`), so
`morec data info` and a study's preflight read it back without reading the raw files again.
`require_coverage` is the gate of every arm whose item encoder reads content: below
`data.min_text_coverage` it stops with one line that names the file and column read and how to
point morec at the text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from morec_core.config import DataConfig
from morec_core.data.errors import DataError, excerpt
from morec_core.data.raw import SPLIT_COLUMN, ContentSource, RawDataset, natural_order

FIRST_IDS = 5
"""How many ids of items without content are named."""
# Text made of digits, signs and separators only: a category or brand code ("0", "12 3"),
# a price, an id. An encoder of such text learns an embedding per code, not from language.
NUMERIC = re.compile(r"[\d\s.,;:|/_+\-\[\]()]*")
# Fewer distinct texts than this share of the items with text: labels shared by many items
# (categories, brands), not item text. Checked from FEW_DISTINCT_MIN_ITEMS items up.
FEW_DISTINCT_SHARE = 0.05
# Below this share of items with content, partial content is warned about (the default of
# data.min_text_coverage, which refuses modality arms below it).
PARTIAL_SHARE = 0.9
FEW_DISTINCT_MIN_ITEMS = 50


@dataclass(frozen=True, kw_only=True)
class ContentAudit:
    modality: str
    """text | image."""
    items: int
    """Items the interactions name."""
    with_content: int
    """Of those, items with non-empty text (an image file)."""
    numeric: int = 0
    """Of those with text, items whose text is only numbers or codes (text only)."""
    distinct: int = 0
    """Distinct texts among the items with text (text only)."""
    examples: tuple[str, ...] = ()
    """A few of the commonest texts, for the warnings (text only)."""
    without: tuple[str, ...] = ()
    """The first ids (natural order) of items without content."""
    source: str = ""
    """Where the content came from, or why there is none (`ContentSource.describe`)."""
    hint: str = ""
    """How to point morec at the content."""

    @property
    def usable(self) -> int:
        """Items whose content a MoRec encoder can learn from: numeric-only text does not
        count."""
        return self.with_content - self.numeric

    @property
    def coverage(self) -> float:
        return self.usable / self.items if self.items else 0.0

    def line(self) -> str:
        if not self.with_content:
            return f"{self.modality}: none of {self.items:,} items ({self.source})"
        share = 100 * self.with_content / self.items
        return (f"{self.modality}: {self.with_content:,} of {self.items:,} items ({share:.1f}%) "
                f"from {self.source}")

    def warnings(self) -> list[str]:
        """Text that is only numbers, or a few labels shared by many items: the arm would be a
        category-ID model, not MoRec."""
        found = []
        if self.numeric:
            found.append(f"{self.numeric:,} of {self.with_content:,} item texts are only numbers "
                         f"or codes (e.g. {', '.join(map(excerpt, self.examples[:3]))}; from "
                         f"{self.source}): a text encoder on them would learn one vector per "
                         f"code, so the arm would not be MoRec")
        elif (self.with_content >= FEW_DISTINCT_MIN_ITEMS
              and self.distinct < FEW_DISTINCT_SHARE * self.with_content):
            found.append(f"{self.with_content:,} items share {self.distinct:,} distinct texts "
                         f"(e.g. {', '.join(map(excerpt, self.examples[:3]))}; from "
                         f"{self.source}): category labels, not item text, so the arm would "
                         f"not be MoRec")
        return found


@dataclass(frozen=True, kw_only=True)
class DataAudit:
    text: ContentAudit
    image: ContentAudit
    interactions: int
    """Rows the reader read."""
    repeated_pairs: int
    """Rows repeating an earlier (user, item) pair of the same user."""
    users_with_repeats: int
    dedupe: str
    """data.dedupe: first drops the repeated rows, keep keeps them."""
    repeated_valid: int
    """Users whose validation target (the published one, or the second last item) is an item
    they had before it."""
    repeated_test: int
    """Users whose test target repeats one of their earlier items."""
    timed: bool
    """Whether the order holds times; else it is the file's order."""
    tied_rows: int = 0
    """Rows whose time equals the previous row of the same user."""
    users_with_ties: int = 0

    def lines(self) -> list[str]:
        """What `morec data info` prints under the steps, one finding a line."""
        lines = [self.text.line(), self.image.line()]
        for content in (self.text, self.image):
            if content.with_content and content.without:
                missing = content.items - content.with_content
                lines.append(f"items without {content.modality}: {missing:,} (first "
                             f"{', '.join(map(excerpt, content.without))})")
        if self.repeated_pairs:
            did = (f"data.dedupe=first keeps the earliest ({self.repeated_pairs:,} rows dropped)"
                   if self.dedupe == "first" else "data.dedupe=keep keeps them all")
            lines.append(f"repeated (user, item) pairs: {self.repeated_pairs:,} rows of "
                         f"{self.users_with_repeats:,} users; {did}")
        else:
            lines.append("repeated (user, item) pairs: none")
        if self.repeated_valid or self.repeated_test:
            lines.append(f"targets repeating an earlier item of their user: "
                         f"{self.repeated_valid:,} validation, {self.repeated_test:,} test"
                         + (" (dedupe=first drops such a target: the item before it takes its "
                            "place, or split=given stops)" if self.dedupe == "first" else ""))
        else:
            lines.append("targets repeating an earlier item of their user: none")
        if not self.timed:
            lines.append("timestamps: none; the file order is the order")
        elif self.tied_rows:
            lines.append(f"tied timestamps: {self.tied_rows:,} rows share their user's previous "
                         f"time ({self.users_with_ties:,} users); the file order breaks ties")
        else:
            lines.append("tied timestamps: none")
        return lines

    def warnings(self, modality: str) -> list[str]:
        """The modality's content warnings: codes or labels as text, or content for only part
        of the items (some but under PARTIAL_SHARE: a join that half works). No content at all
        is no warning here: an ID-only dataset has none, and a modality arm is refused."""
        content = self.text if modality == "text" else self.image
        found = self.text.warnings() if modality == "text" else []
        if not found and 0 < content.usable and content.coverage < PARTIAL_SHARE:
            hint = f"; {content.hint}" if content.hint else ""
            found.append(f"only {100 * content.coverage:.1f}% of the items have {modality} "
                         f"({content.source}){hint}")
        return found

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DataAudit:
        fields = {key: value for key, value in raw.items() if key not in ("text", "image")}
        return cls(text=_content_from_dict(raw["text"]), image=_content_from_dict(raw["image"]),
                   **fields)


def _content_from_dict(raw: dict[str, Any]) -> ContentAudit:
    """JSON turned the tuples into lists."""
    values: dict[str, Any] = {key: tuple(value) if isinstance(value, list) else value
                              for key, value in raw.items()}
    return ContentAudit(**values)


def _content(raw: RawDataset, modality: str, source: ContentSource,
             item_ids: np.ndarray) -> ContentAudit:
    """item_ids: (items,) the distinct item ids of the interactions."""
    table = raw.items.drop_duplicates("item").set_index("item")
    # Object columns: a reindex of an empty table would make them float64 (NaN).
    known = table.reindex(item_ids).astype({"title": object, "image_path": object})
    if modality == "text":
        texts = known["title"].fillna("").astype(str).str.strip()
        has = (texts != "").to_numpy()
    else:
        has = (known["image_path"].fillna("").astype(str) != "").to_numpy()
    without = item_ids[~has]
    first = without[natural_order(without)[:FIRST_IDS]] if len(without) else without
    described = source.describe()
    if not has.any() and source.file and len(table):
        # The items file has content, but for no item of the interactions: the ids differ.
        sample = next((item for item in table.index if item), "")
        interactions = raw.interactions_file or "the interactions"
        first_item = item_ids[0] if len(item_ids) else ""
        described = (f"{source.describe()} names no item of {interactions} (its ids look like "
                     f"{excerpt(sample)}, the interactions' like {excerpt(first_item)})")
    if modality != "text":
        return ContentAudit(modality=modality, items=len(item_ids), with_content=int(has.sum()),
                            without=tuple(map(str, first)), source=described, hint=source.hint)
    present = texts[has]
    numeric = present.str.fullmatch(NUMERIC)
    counts = present.value_counts()
    # The commonest texts (of the numeric ones, when there are), ties by text: deterministic.
    shown = present[numeric].value_counts() if numeric.any() else counts
    examples = sorted(shown.items(), key=lambda pair: (-pair[1], str(pair[0])))[:3]
    return ContentAudit(modality="text", items=len(item_ids), with_content=int(has.sum()),
                        numeric=int(numeric.sum()), distinct=len(counts),
                        examples=tuple(str(text) for text, _ in examples),
                        without=tuple(map(str, first)), source=described, hint=source.hint)


def audit(raw: RawDataset, config: DataConfig) -> DataAudit:
    """The audit of a reader's output under `config` (its split and dedupe settings)."""
    frame = raw.interactions
    item_ids = pd.unique(frame["item"].to_numpy())
    users = frame["user"].to_numpy()
    # Each user's rows in the order preprocessing puts them: chronological (file order on
    # ties), a published split's validation and test rows last.
    keys = [frame["order"].to_numpy(), users]
    if config.split == "given" and SPLIT_COLUMN in frame.columns:
        keys.insert(1, frame[SPLIT_COLUMN].to_numpy())
    ordered = frame.iloc[np.lexsort(keys)]
    user_codes = pd.factorize(ordered["user"])[0]
    repeated = ordered.duplicated(["user", "item"]).to_numpy()
    last, second = _from_end(user_codes)
    same_user = np.r_[False, user_codes[1:] == user_codes[:-1]]
    orders = ordered["order"].to_numpy()
    tied = same_user & np.r_[False, orders[1:] == orders[:-1]]
    if not raw.timed:
        tied[:] = False  # positions in the file never tie
    return DataAudit(
        text=_content(raw, "text", raw.text_source, item_ids),
        image=_content(raw, "image", raw.image_source, item_ids),
        interactions=len(frame), repeated_pairs=int(repeated.sum()),
        users_with_repeats=len(np.unique(user_codes[repeated])), dedupe=config.dedupe,
        repeated_valid=int((repeated & second).sum()), repeated_test=int((repeated & last).sum()),
        timed=raw.timed, tied_rows=int(tied.sum()),
        users_with_ties=len(np.unique(user_codes[tied])))


def _from_end(user_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows,) masks of each user's last and second last row; rows grouped by user."""
    following = np.r_[user_codes[1:] != user_codes[:-1], True]
    last = following
    second = np.r_[following[1:], False] & ~following
    return last, second


def content_reason(found: DataAudit, modality: str) -> str:
    """Why no item has content, e.g. "no items file (looked for ...); set ..."."""
    content = found.text if modality == "text" else found.image
    return content.source + (f"; {content.hint}" if content.hint else "")


def require_coverage(found: DataAudit, config: DataConfig, where: str) -> None:
    """A DataError when fewer than data.min_text_coverage of the items have usable content of
    data.modality: the arm would train on ids (or numbers) while labelled MoRec."""
    content = found.text if config.modality == "text" else found.image
    if content.items and content.coverage >= config.min_text_coverage:
        return
    numbers = (f", {content.numeric:,} more only numbers or codes" if content.numeric else "")
    hint = f"; {content.hint}" if content.hint else ""
    raise DataError(f"{100 * content.coverage:.1f}% of the {content.items:,} items have usable "
                    f"{config.modality} ({content.usable:,}{numbers}; read: {content.source}), "
                    f"below data.min_text_coverage={config.min_text_coverage:g}: the arm would "
                    f"not be MoRec{hint}", path=where, field="data.min_text_coverage")
