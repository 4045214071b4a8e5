"""A prepared dataset: every user's chronological item sequence after the paper's preprocessing.

Item ids are contiguous integers 1..num_items, 0 is padding. Sequences are stored CSR-style
(`offsets`, `items`) so that a 50K-user dataset is two flat arrays, saved and memory-mapped as is.
Leave-one-out (paper 3.4): the last item of each sequence is the test target, the second last the
validation target, the rest is training data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, kw_only=True)
class ItemContent:
    """Content of items 0..num_items (row 0 is the padding item, empty)."""

    raw_ids: list[str]
    """The source's item id of each internal id ('' for padding)."""
    titles: list[str]
    """Item text (title; more fields joined by the reader where the source has them)."""
    image_paths: list[str]
    """Absolute image path of each item, '' where there is none."""


@dataclass(frozen=True, kw_only=True)
class PreparedDataset:
    name: str
    offsets: np.ndarray
    """(num_users + 1,) int64: user u's sequence is items[offsets[u]:offsets[u + 1]]."""
    items: np.ndarray
    """(num_interactions,) int64 item ids in 1..num_items, chronological within each user."""
    num_items: int
    content: ItemContent
    raw_user_ids: list[str] = field(default_factory=list)

    @property
    def num_users(self) -> int:
        return len(self.offsets) - 1

    def sequence(self, user: int) -> np.ndarray:
        return self.items[self.offsets[user]:self.offsets[user + 1]]

    @property
    def lengths(self) -> np.ndarray:
        """(num_users,) sequence length of each user."""
        return np.diff(self.offsets)

    def valid_targets(self) -> np.ndarray:
        """(num_users,) the second-last item of each user."""
        return self.items[self.offsets[1:] - 2]

    def test_targets(self) -> np.ndarray:
        """(num_users,) the last item of each user."""
        return self.items[self.offsets[1:] - 1]

    def train_counts(self) -> np.ndarray:
        """(num_items + 1,) interactions of each item in the training part (all but last two)."""
        lengths = self.lengths
        user_of = np.repeat(np.arange(self.num_users), lengths)
        position = np.arange(len(self.items)) - self.offsets[user_of]
        in_train = position < (lengths[user_of] - 2)
        return np.bincount(self.items[in_train], minlength=self.num_items + 1)

    def cold_item_mask(self, threshold: int = 10) -> np.ndarray:
        """(num_items + 1,) True for items seen in training, but fewer than `threshold` times."""
        counts = self.train_counts()
        mask = (counts > 0) & (counts < threshold)
        mask[0] = False
        return mask

    def new_item_mask(self) -> np.ndarray:
        """(num_items + 1,) True for items absent from training (paper Table 9's new items)."""
        mask = self.train_counts() == 0
        mask[0] = False
        return mask

    @property
    def num_interactions(self) -> int:
        return int(len(self.items))
