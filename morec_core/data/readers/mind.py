"""`mind`: Microsoft News (MIND) behaviors.tsv + news.tsv, tab-separated, no header.

behaviors.tsv: impression id, user id, time ("11/15/2019 8:55:22 AM"), history (space-separated
news ids clicked before the impression, oldest first), impressions ("N123-1 N456-0": id-label,
1 = clicked). news.tsv: id, category, subcategory, title, abstract, url, title entities,
abstract entities. Quote characters are text in both (titles contain unbalanced quotes).

Clicks: for each impression, its history items (ordered before the impression, in history
order) and then its clicked (-1) impression items, all at the impression's time. A user's
history repeats on each of their impressions; deduplication keeps the earliest copy, so only
the earliest impression carrying a given history is expanded (same result, far fewer rows).
The unlabelled test split (impressions without -0/-1) is rejected, naming the line.

Partial dumps: MIND clicks reference news that news.tsv may lack (mind-sample keeps 2,000 of
51,282 news, so most clicked ids have no row). Such items are kept here, with empty title:
IDRec can use them. A modality run must not: `prepare` drops their interactions through
`raw.require_content` (the default), and its report says how many were dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.config import DataConfig
from morec_core.data.errors import DataError, excerpt
from morec_core.data.raw import ContentSource, RawDataset
from morec_core.data.readers.content import items_file, joined_text, text_columns, text_source
from morec_core.data.tables import read_table, require_folder

BEHAVIOR_COLUMNS = ["impression_id", "user", "time", "history", "impressions"]
NEWS_COLUMNS = ["item", "category", "subcategory", "title", "abstract", "url",
                "title_entities", "abstract_entities"]
TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"


def _expand(lines: np.ndarray, users: np.ndarray, times: np.ndarray, tokens: pd.Series,
            phase: int) -> pd.DataFrame:
    """One row per space-separated token, with the keys that order them within an impression."""
    split = tokens.str.split()
    counts = split.str.len().fillna(0).to_numpy(dtype=np.int64)
    flat = np.asarray([token for row in split for token in row], dtype=object)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return pd.DataFrame({
        "user": np.repeat(users, counts), "item": flat, "order": np.repeat(times, counts),
        "line": np.repeat(lines, counts), "phase": phase,
        "position": np.arange(len(flat), dtype=np.int64) - starts,
    })


def read_mind(path: Path, config: DataConfig) -> RawDataset:
    folder = require_folder(path)
    behaviors = read_table(folder / "behaviors.tsv", sep="\t", header=False,
                           names=BEHAVIOR_COLUMNS, quoted=False)
    users = behaviors.text("user", nonempty=True)
    times = behaviors.times("time", TIME_FORMAT)
    frame = behaviors.frame.assign(user=users, time=times, line=behaviors.lines)
    # Earliest impression first (file order on ties), then one expansion per (user, history).
    frame = frame.iloc[np.argsort(times, kind="stable")]
    histories = frame.drop_duplicates(["user", "history"])
    history = _expand(histories["line"].to_numpy(), histories["user"].to_numpy(),
                      histories["time"].to_numpy(), histories["history"], phase=0)
    shown = _expand(frame["line"].to_numpy(), frame["user"].to_numpy(),
                    frame["time"].to_numpy(), frame["impressions"], phase=1)
    parts = shown["item"].str.rpartition("-")
    item, dash, label = parts[0], parts[1], parts[2]
    bad = ((dash != "-") | ~label.isin(["0", "1"]) | (item == "")).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        token = shown["item"].iat[row]
        raise DataError(f"expected impressions like 'N123-1 N456-0', got {excerpt(token)}",
                        path=behaviors.path, line=int(shown["line"].iat[row]), field="impressions")
    clicks = shown.assign(item=item).loc[(label == "1").to_numpy()]
    interactions = pd.concat([history, clicks], ignore_index=True)
    # File order that a stable sort by time keeps: line, history before clicks, position.
    interactions = interactions.sort_values(["line", "phase", "position"], kind="stable")
    interactions = interactions[["user", "item", "order"]].reset_index(drop=True)
    if interactions.empty:
        raise DataError("no clicks in any history or impression", path=behaviors.path)
    items, text = _read_news(_news_file(folder, config), config)
    return RawDataset(name=str(path), interactions=interactions, items=items,
                      interactions_file=behaviors.path.name, text_source=text)


def _news_file(folder: Path, config: DataConfig) -> Path:
    found = items_file(folder, config, folder / "news.tsv")
    assert found is not None  # a default is given
    return found


def _read_news(path: Path, config: DataConfig) -> tuple[pd.DataFrame, ContentSource]:
    """news.tsv (no header: its columns are NEWS_COLUMNS); the text is data.text_columns
    joined, by default the title (e.g. data.text_columns=title,abstract adds the abstract)."""
    news = read_table(path, sep="\t", header=False, names=NEWS_COLUMNS, quoted=False)
    ids = news.text("item", nonempty=True)
    news.unique("item", ids)
    columns = text_columns(news, config, ("title",))
    items = news.frame.assign(item=ids, title=joined_text(news, columns), image_path="")
    return items.reset_index(drop=True), text_source(news, columns)


def mind_files(path: Path, config: DataConfig) -> list[Path]:
    folder = require_folder(path)
    return [folder / "behaviors.tsv", _news_file(folder, config)]
