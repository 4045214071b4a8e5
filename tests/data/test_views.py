"""Cold and new evaluation subsets (paper A.1) on a dataset whose counts are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from morec_core.data.dataset import ItemContent, PreparedDataset
from morec_core.data.errors import DataError
from morec_core.data.views import cold_target_users, item_counts, new_target_users, warm_view


def _dataset(sequences: list[list[int]], num_items: int) -> PreparedDataset:
    lengths = [len(sequence) for sequence in sequences]
    empty = [""] * (num_items + 1)
    return PreparedDataset(
        name="by hand", offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        items=np.concatenate(sequences).astype(np.int64), num_items=num_items,
        content=ItemContent(raw_ids=[str(i) if i else "" for i in range(num_items + 1)],
                            titles=empty, image_paths=empty),
        raw_user_ids=[f"u{index}" for index in range(len(sequences))])


# Training part = all but the last two of each user: item 1 appears 4*3 + 2 + 1 = 15 times
# (warm), item 2 1 + 2 = 3 times (cold), item 3 never (new: it is only ever a target).
# Repeats inside a sequence are not realistic after deduplication; they keep the sums short.
SEQUENCES = [[1, 1, 1, 2, 3]] * 4 + [[1, 2, 1, 1, 2]] + [[1, 2, 2, 3, 1]]


def test_cold_and_new_target_users():
    dataset = _dataset([list(sequence) for sequence in SEQUENCES], num_items=3)
    counts = dataset.train_counts()
    assert counts.tolist() == [0, 15, 3, 0]
    assert dataset.cold_item_mask().tolist() == [False, False, True, False]
    assert dataset.new_item_mask().tolist() == [False, False, False, True]
    # test targets: 3,3,3,3,2,1   valid targets: 2,2,2,2,1,3
    assert new_target_users(dataset, split="test").tolist() == [0, 1, 2, 3]
    assert cold_target_users(dataset, split="test").tolist() == [4]
    assert cold_target_users(dataset, split="valid").tolist() == [0, 1, 2, 3]
    assert new_target_users(dataset, split="valid").tolist() == [5]
    assert cold_target_users(dataset, split="test", threshold=20).tolist() == [4, 5]
    with pytest.raises(ValueError, match="unknown split 'train'"):
        cold_target_users(dataset, split="train")  # type: ignore[arg-type]


def test_warm_view_renumbers_and_keeps_order():
    dataset = _dataset([[1, 2, 3, 4], [2, 4, 3], [4, 1, 2]], num_items=4)
    # counts: 1 -> 2, 2 -> 3, 3 -> 2, 4 -> 3; warm-3 keeps items 2 and 4.
    warm = warm_view(dataset, min_item_interactions=3, min_user_interactions=2)
    assert warm.content.raw_ids == ["", "2", "4"]
    assert [warm.sequence(u).tolist() for u in range(warm.num_users)] == [[1, 2], [1, 2], [2, 1]]
    assert item_counts(warm).tolist() == [0, 3, 3]
    with pytest.raises(DataError, match="warm-4"):
        warm_view(dataset, min_item_interactions=4, min_user_interactions=2)
