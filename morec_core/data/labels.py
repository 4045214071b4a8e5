"""The one label of a dataset view, for every table a user reads: `morec data info`, `morec
compare`, `morec report` and the dashboard (through the store's `dataset` column).

"microlens-50k (microlens, text)", "movielens-small-posters (movielens, image, latest 13)",
"Grocery (rechorus, text, given split, warm-20, 3,000 users seed 1)": the raw folder's name,
then the reader and every data setting that makes another dataset of the same folder, so two
datasets never share a label. Plain strings in, no pandas or torch: the store imports it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from morec_core.config import DataConfig

_DEFAULTS = dataclasses.asdict(DataConfig())


def dataset_label(data: DataConfig | Mapping[str, Any]) -> str:
    """`data`: a DataConfig or a recorded spec's data section (keys it lacks take their
    defaults, as for specs recorded before a setting existed)."""
    values = dataclasses.asdict(data) if isinstance(data, DataConfig) else data

    def get(name: str) -> Any:
        return values.get(name, _DEFAULTS[name])

    source = str(get("source"))
    # The folder's own name, as prepare.dataset_name gives it (without resolving the path:
    # the label must not depend on the machine that reads it back).
    folder = PurePath(str(get("path")).rstrip("/\\")).name if get("path") else ""
    view = [source] if folder and folder != source else []
    view.append(str(get("modality")))
    if get("split") != _DEFAULTS["split"]:
        view.append(f"{get('split')} split")
    if get("dedupe") != _DEFAULTS["dedupe"]:
        view.append("repeats kept")
    for name, text in (("items_file", "items {}"), ("text_columns", "text {}"),
                       ("interactions_file", "{}")):
        if get(name):
            view.append(text.format(get(name)))
    if get("max_seq_len") != _DEFAULTS["max_seq_len"]:
        view.append(f"latest {get('max_seq_len')}")
    if get("min_user_interactions") != _DEFAULTS["min_user_interactions"]:
        view.append(f"users >= {get('min_user_interactions')}")
    if get("warm_min_item_interactions"):
        view.append(f"warm-{get('warm_min_item_interactions')}")
    if get("user_sample"):
        seed = f" seed {get('sample_seed')}" if get("sample_seed") else ""
        view.append(f"{int(get('user_sample')):,} users{seed}")
    return f"{folder or source} ({', '.join(view)})"
