"""`movielens`: GroupLens MovieLens, as `.csv` (ml-latest-small, ml-25m) or `.dat` (ml-1m).

CSV: ratings.csv (userId,movieId,rating,timestamp) and movies.csv (movieId,title,genres).
DAT: ratings.dat (UserID::MovieID::Rating::Timestamp) and movies.dat (MovieID::Title::Genres),
latin-1 encoded, `::` separated, no header.
Optional posters: posters/<movieId>.jpg.

Every rating counts as an interaction (implicit feedback, as in the paper's use of comments and
purchases). Ids and timestamps must be integers: a bad one is an error naming its line.
Item text is "Title (Year): Genre, Genre" (genres from the pipe-separated list), or
data.text_columns of the movies file (data.items_file) joined.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morec_core.config import DataConfig
from morec_core.data.errors import DataError
from morec_core.data.raw import ContentSource, RawDataset
from morec_core.data.readers.content import (
    items_file,
    joined_text,
    requested_columns,
    text_source,
)
from morec_core.data.readers.images import list_images
from morec_core.data.tables import Table, read_table, require_file, require_folder

NO_GENRES = "(no genres listed)"
POSTERS = "posters"


def item_text(titles: np.ndarray, genres: np.ndarray) -> list[str]:
    """Title plus genres, the text a MoRec text encoder reads for a movie."""
    texts = []
    for title, genre_list in zip(titles, genres, strict=True):
        named = ", ".join(genre for genre in str(genre_list).split("|")
                          if genre and genre != NO_GENRES)
        head = str(title).strip()
        texts.append(f"{head}: {named}" if head and named else head or named)
    return texts


def _read_dat(path: Path, names: list[str]) -> Table:
    """A `::`-separated latin-1 file, rewritten to a one-character separator for pandas' C
    parser (pandas only accepts `::` with its much slower python engine)."""
    text = require_file(path).read_bytes().decode("latin-1")  # latin-1 maps every byte
    if "\x1f" in text:
        raise DataError("unexpected control character \\x1f", path=path)
    return read_table(path, sep="\x1f", header=False, names=names, quoted=False,
                      text=text.replace("::", "\x1f"))


def _layout(path: Path, config: DataConfig) -> tuple[Path, Path, Path]:
    folder = require_folder(path)
    if (folder / "ratings.csv").exists() or not (folder / "ratings.dat").exists():
        ratings, movies = folder / "ratings.csv", folder / "movies.csv"
    else:
        ratings, movies = folder / "ratings.dat", folder / "movies.dat"
    found = items_file(folder, config, movies)
    assert found is not None  # a default is given
    return ratings, found, folder / POSTERS


def read_movielens(path: Path, config: DataConfig) -> RawDataset:
    ratings_path, movies_path, posters = _layout(path, config)
    if ratings_path.suffix == ".dat":
        ratings = _read_dat(ratings_path, ["userId", "movieId", "rating", "timestamp"])
    else:
        ratings = read_table(ratings_path, sep=",", header=True)
    if movies_path.suffix == ".dat":
        movies = _read_dat(movies_path, ["movieId", "title", "genres"])
    else:
        movies = read_table(movies_path, sep=",", header=True)
    ratings.require_columns("userId", "movieId", "timestamp")
    movies.require_columns("movieId")
    interactions = pd.DataFrame({
        "user": ratings.integers("userId").astype(str),
        "item": ratings.integers("movieId").astype(str),
        "order": ratings.integers("timestamp"),
    })
    movie_ids = movies.integers("movieId").astype(str)
    movies.unique("movieId", movie_ids)
    requested = requested_columns(config)
    if requested:
        texts, columns = joined_text(movies, requested), requested
    else:
        movies.require_columns("title", "genres")
        texts = np.asarray(item_text(movies.text("title"), movies.text("genres")), dtype=object)
        columns = ["title", "genres"]
    stems = list_images(posters)
    items = pd.DataFrame({
        "item": movie_ids,
        "title": texts,
        "image_path": [stems.get(movie, "") for movie in movie_ids],
        "genres": movies.text("genres") if "genres" in movies.frame.columns else "",
    })
    image_source = (ContentSource(file=f"{POSTERS}/") if stems else
                    ContentSource(absent=f"no {POSTERS}/<movieId>.jpg files"))
    return RawDataset(name=str(path), interactions=interactions, items=items,
                      interactions_file=ratings_path.name,
                      text_source=text_source(movies, columns), image_source=image_source)


def movielens_files(path: Path, config: DataConfig) -> list[Path]:
    ratings, movies, posters = _layout(path, config)
    return [ratings, movies] + ([posters] if posters.is_dir() else [])
