"""`data.split=given`: keep a published train/valid/test split in the positional format.

A prepared dataset has no split column: each user's last item is the test target and the
second last the validation target (`PreparedDataset`). A published split fits that format when
every user has one validation and one test row: ordering each user's rows as train (by time,
file order on ties), then validation, then test puts the given targets in those two places, and
leave-one-out then reads back exactly the published split. `check_given` verifies afterwards
that no later step (deduplication, warm-K, the content filter) moved or removed a target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from morec_core.data.dataset import PreparedDataset
from morec_core.data.errors import DataError, excerpt
from morec_core.data.raw import SPLIT_COLUMN, TEST, VALID, RawDataset

Targets = dict[str, tuple[str, str]]
"""user -> (validation item, test item), raw ids."""


def given_order(raw: RawDataset) -> tuple[RawDataset, Targets]:
    """Users with exactly one validation and one test row, their rows ordered train, valid,
    test (`order` becomes that rank), and each user's given targets."""
    frame = raw.interactions
    split = frame[SPLIT_COLUMN].to_numpy()
    counts = pd.crosstab(frame["user"], split)
    valid = counts[VALID] if VALID in counts.columns else pd.Series(0, index=counts.index)
    test = counts[TEST] if TEST in counts.columns else pd.Series(0, index=counts.index)
    complete = counts.index[(valid == 1) & (test == 1)]
    if len(complete) == 0:
        raise DataError("data.split=given: no user has exactly one validation and one test row",
                        path=raw.name, field="data.split")
    frame = frame.loc[frame["user"].isin(complete).to_numpy()]
    by_split = np.lexsort((frame["order"].to_numpy(), frame[SPLIT_COLUMN].to_numpy()))
    rank = np.empty(len(frame), dtype=np.int64)
    rank[by_split] = np.arange(len(frame), dtype=np.int64)
    frame = frame.assign(order=rank).reset_index(drop=True)
    targets: Targets = {}
    for kind in (VALID, TEST):
        rows = frame.loc[frame[SPLIT_COLUMN].to_numpy() == kind]
        for user, item in zip(rows["user"], rows["item"], strict=True):
            known = targets.get(user, ("", ""))
            targets[user] = (item, known[1]) if kind == VALID else (known[0], item)
    return RawDataset(name=raw.name, interactions=frame, items=raw.items), targets


def check_given(dataset: PreparedDataset, targets: Targets, name: str) -> None:
    """A DataError when a user's last two items are not their given validation and test items."""
    raw_ids = np.asarray(dataset.content.raw_ids, dtype=object)
    found_valid = raw_ids[dataset.valid_targets()]
    found_test = raw_ids[dataset.test_targets()]
    wrong = [user for user, valid, test in zip(dataset.raw_user_ids, found_valid, found_test,
                                               strict=True)
             if targets[user] != (valid, test)]
    if wrong:
        raise DataError(
            f"data.split=given: {len(wrong):,} users (first {excerpt(wrong[0])}) no longer end "
            f"with their given validation and test items: a target repeats an earlier item "
            f"(data.dedupe=keep keeps it) or warm-K or the content filter removed it",
            path=name, field="data.split")
