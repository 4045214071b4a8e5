"""Where the public datasets come from, for `morec data download NAME`.

A checksum is pinned only where a published value could be checked; otherwise it is None and
the download says "size/checksum not pinned" rather than trusting an invented value.
Pinned values: the MovieLens sizes and sha256 sums are those TensorFlow Datasets records for
the same GroupLens URLs (tensorflow_datasets/url_checksums/movielens.txt). GroupLens itself
publishes only md5 sums (ml-1m.zip.md5).
"""

from __future__ import annotations

from dataclasses import dataclass

from morec_core.config import ConfigError


@dataclass(frozen=True, kw_only=True)
class RemoteFile:
    url: str
    filename: str
    sha256: str | None = None
    """Expected sha256 of the file, None when not pinned."""
    size: int | None = None
    """Expected size in bytes, None when not pinned."""
    extract: bool = False
    """A zip archive unpacked into a folder named after it (without .zip)."""


@dataclass(frozen=True, kw_only=True)
class CatalogEntry:
    name: str
    source: str
    """The reader to prepare it with (`--set data.source=...` / the SOURCE argument)."""
    summary: str
    files: tuple[RemoteFile, ...] = ()
    folder: str = ""
    """The folder, relative to the download root, to pass as --path afterwards."""
    manual: str = ""
    """How to obtain it when there is no direct download (login, request form)."""
    licence: str = ""


_MIND = "https://mind201910small.blob.core.windows.net/release/"
_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
_ML_LATEST_SMALL_SHA256 = "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"
_ML_1M_SHA256 = "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"
_MICROLENS = "https://recsys.westlake.edu.cn/MicroLens-50k-Dataset/"

CATALOG: dict[str, CatalogEntry] = {entry.name: entry for entry in (
    CatalogEntry(
        name="mind-small", source="mind", folder="MINDsmall_train",
        summary="MIND small: 50K users' news clicks (train and dev splits), titles",
        files=(RemoteFile(url=_MIND + "MINDsmall_train.zip", filename="MINDsmall_train.zip",
                          extract=True),
               RemoteFile(url=_MIND + "MINDsmall_dev.zip", filename="MINDsmall_dev.zip",
                          extract=True)),
        licence="Microsoft Research License Terms (https://msnews.github.io)"),
    CatalogEntry(
        name="mind-large", source="mind", folder="MINDlarge_train",
        summary="MIND large: 1M users' news clicks (train and dev splits), titles",
        files=(RemoteFile(url=_MIND + "MINDlarge_train.zip", filename="MINDlarge_train.zip",
                          extract=True),
               RemoteFile(url=_MIND + "MINDlarge_dev.zip", filename="MINDlarge_dev.zip",
                          extract=True)),
        licence="Microsoft Research License Terms (https://msnews.github.io)"),
    CatalogEntry(
        name="ml-latest-small", source="movielens", folder="ml-latest-small/ml-latest-small",
        summary="MovieLens latest-small: 610 users, 9.7K movies, 100K ratings, titles",
        files=(RemoteFile(url=_GROUPLENS + "ml-latest-small.zip", filename="ml-latest-small.zip",
                          size=978202, extract=True, sha256=_ML_LATEST_SMALL_SHA256),),
        licence="GroupLens terms: non-commercial research, cite Harper & Konstan 2015"),
    CatalogEntry(
        name="ml-1m", source="movielens", folder="ml-1m/ml-1m",
        summary="MovieLens 1M: 6,040 users, 3.9K movies, 1M ratings (.dat, latin-1)",
        files=(RemoteFile(url=_GROUPLENS + "ml-1m.zip", filename="ml-1m.zip", size=5917549,
                          extract=True, sha256=_ML_1M_SHA256),),
        licence="GroupLens terms: non-commercial research, cite Harper & Konstan 2015"),
    CatalogEntry(
        name="microlens-50k", source="microlens", folder="",
        summary="MicroLens-50k: 50K users' micro-video interactions and titles",
        files=(RemoteFile(url=_MICROLENS + "MicroLens-50k_pairs.tsv",
                          filename="MicroLens-50k_pairs.tsv"),
               RemoteFile(url=_MICROLENS + "MicroLens-50k_titles.csv",
                          filename="MicroLens-50k_titles.csv")),
        manual=("Cover images are served one file each under " + _MICROLENS
                + "MicroLens-50k_covers/<item>.jpg; put them in a MicroLens-50k_covers/ "
                  "folder beside the pairs file for an image run."),
        licence="MicroLens (Westlake University): research use only"),
    CatalogEntry(
        name="hm", source="hm",
        summary="H&M personalized fashion: 1.4M customers' purchases, article photos",
        manual=("Needs a Kaggle account that has accepted the competition rules: "
                "kaggle competitions download -c h-and-m-personalized-fashion-recommendations "
                "(https://www.kaggle.com/competitions/h-and-m-personalized-fashion-recommendations"
                "/data), unzip, then prepare with: morec data prepare hm --path <folder>"),
        licence="H&M Kaggle competition terms"),
    CatalogEntry(
        name="bili", source="pairs",
        summary="Bili: the paper's own video comment dataset (400K users, cover images)",
        manual=("Not publicly downloadable: the paper's authors share it on request; see the "
                "dataset section of https://github.com/westlake-repl/IDvs.MoRec. It comes in "
                "the pairs layout: morec data prepare pairs --path <folder>"),
        licence="by agreement with the authors"),
)}


def catalog_entry(name: str) -> CatalogEntry:
    if name not in CATALOG:
        raise ConfigError(f"unknown dataset {name!r}; known: {', '.join(CATALOG)}")
    return CATALOG[name]
