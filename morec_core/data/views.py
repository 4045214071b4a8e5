"""Views of a prepared dataset: warm-K (paper Table 3) and cold / new evaluation subsets (A.1).

Warm-K is a new dataset (items and users are removed, ids re-numbered). Cold and new are
subsets of users to evaluate on: those whose validation or test target is a cold item (seen in
training fewer than `threshold` times, paper: 10) or a new item (never seen in training). A
model is trained on the whole dataset either way; only the ranking metrics are restricted.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from morec_core.data.dataset import ItemContent, PreparedDataset
from morec_core.data.errors import DataError

Split = Literal["valid", "test"]
COLD_THRESHOLD = 10


def warm_view(dataset: PreparedDataset, *, min_item_interactions: int,
              min_user_interactions: int) -> PreparedDataset:
    """Drop items with fewer than `min_item_interactions` interactions in `dataset` (all of
    them, train, valid and test), then users left with fewer than `min_user_interactions`.

    The user filter is applied once, not iterated to a fixed point: the paper removes items
    from the original datasets and keeps its no-cold-user rule; after the user filter some
    surviving items may have fewer than K interactions again (`item_counts` shows them).
    Remaining ids keep their relative order, so the result equals preparing with
    `warm_min_item_interactions` set.
    """
    counts = np.bincount(dataset.items, minlength=dataset.num_items + 1)
    warm_item = counts >= min_item_interactions
    warm_item[0] = False
    keep_row = warm_item[dataset.items]
    user_of_row = np.repeat(np.arange(dataset.num_users), dataset.lengths)
    per_user = np.bincount(user_of_row[keep_row], minlength=dataset.num_users)
    keep_user = per_user >= min_user_interactions
    keep_row &= keep_user[user_of_row]
    if not keep_row.any():
        raise DataError(f"no interactions left in the warm-{min_item_interactions} view",
                        path=dataset.name, field="data.warm_min_item_interactions")

    # (num_items + 1,) old id -> new id, 0 for dropped items; order preserved.
    present = np.zeros(dataset.num_items + 1, dtype=bool)
    present[dataset.items[keep_row]] = True
    present[0] = False
    new_id = np.zeros(dataset.num_items + 1, dtype=np.int64)
    new_id[present] = np.arange(1, int(present.sum()) + 1)
    old_ids = np.flatnonzero(present)

    offsets = np.zeros(int(keep_user.sum()) + 1, dtype=np.int64)
    np.cumsum(per_user[keep_user], out=offsets[1:])
    content = dataset.content
    picked = [0, *old_ids.tolist()]
    return PreparedDataset(
        name=dataset.name,
        offsets=offsets,
        items=new_id[dataset.items[keep_row]],
        num_items=len(old_ids),
        content=ItemContent(raw_ids=[content.raw_ids[i] for i in picked],
                            titles=[content.titles[i] for i in picked],
                            image_paths=[content.image_paths[i] for i in picked]),
        raw_user_ids=[dataset.raw_user_ids[u] for u in np.flatnonzero(keep_user)]
        if dataset.raw_user_ids else [],
    )


def item_counts(dataset: PreparedDataset) -> np.ndarray:
    """(num_items + 1,) interactions of each item over the whole dataset."""
    return np.bincount(dataset.items, minlength=dataset.num_items + 1)


def targets(dataset: PreparedDataset, split: Split) -> np.ndarray:
    """(num_users,) the validation or test target item of each user."""
    if split == "valid":
        return dataset.valid_targets()
    if split == "test":
        return dataset.test_targets()
    raise ValueError(f"unknown split {split!r}; known: valid, test")


def cold_target_users(dataset: PreparedDataset, *, split: Split = "test",
                      threshold: int = COLD_THRESHOLD) -> np.ndarray:
    """(k,) int64 indices of users whose `split` target was seen in training, but fewer than
    `threshold` times (paper A.1's cold items)."""
    cold = dataset.cold_item_mask(threshold)
    return np.flatnonzero(cold[targets(dataset, split)]).astype(np.int64)


def new_target_users(dataset: PreparedDataset, *, split: Split = "test") -> np.ndarray:
    """(k,) int64 indices of users whose `split` target never occurs in training (A.1's new
    items)."""
    new = dataset.new_item_mask()
    return np.flatnonzero(new[targets(dataset, split)]).astype(np.int64)
