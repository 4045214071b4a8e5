"""Default locations: the data root and the run store, each overridable by environment."""

from __future__ import annotations

import os
import re
from pathlib import Path

DATA_DIR_ENV = "MOREC_DATA_DIR"
STORE_ENV = "MOREC_STORE"


def data_dir() -> Path:
    """Where raw datasets, prepared datasets and content caches live (default ./data)."""
    return Path(os.environ.get(DATA_DIR_ENV, "data")).expanduser()


def content_cache_dir(dataset_name: str) -> Path:
    """The content caches (title tokens, resized images, frozen features) of one prepared
    dataset. The one home of this folder: what `morec data prepare` builds is what runs read."""
    return data_dir() / "cache" / dataset_name


def default_store_url() -> str:
    """The run store: $MOREC_STORE (a URL or a file path), else runs/morec.db."""
    return os.environ.get(STORE_ENV, "runs/morec.db")


def optuna_url_for(store_url: str) -> str:
    """Optuna's storage beside the run store: runs/morec.db -> runs/morec-optuna.db.
    On PostgreSQL both live in one database (Optuna's tables have their own names)."""
    if store_url.startswith("sqlite:///"):
        path = Path(store_url.removeprefix("sqlite:///"))
        return f"sqlite:///{path.with_name(path.stem + '-optuna' + path.suffix)}"
    return store_url


def runs_dir() -> Path:
    """Checkpoints and logs of runs (beside the default store)."""
    return Path(os.environ.get("MOREC_RUNS_DIR", "runs")).expanduser()


RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
"""What a run id may be (morec's own are 32 hex digits): a single folder name, so a run's
checkpoints can only ever land in its own folder under the runs folder."""


def run_folder(run_id: str, runs: Path | None = None) -> Path:
    """The folder of a run's checkpoints: `runs/<run_id>`, the one place they are written and
    read (never a path recorded in a store row). ValueError for what is no run id."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise ValueError(f"{run_id!r} is not a run id (letters, digits, '-' and '_', at most 64, "
                         "no folder separators)")
    return (runs_dir() if runs is None else runs) / run_id


def missing_store_file(url: str) -> str | None:
    """Why a store a command only reads cannot be there: a SQLite path (plain, or sqlite:///)
    naming no file. Such a reader says so instead of making a folder and an empty store out of
    a typo. None for an existing file or a server URL."""
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    if "://" in path or Path(path).expanduser().is_file():
        return None
    folder = Path(path).expanduser().parent
    if not folder.is_dir():
        return f"store {url}: folder {folder} does not exist (nothing was created)"
    return f"store {url}: no such file (nothing was created)"
