"""Default locations: the data root and the run store, each overridable by environment."""

from __future__ import annotations

import os
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
