"""The paper's Table 1 columns for a prepared dataset."""

from __future__ import annotations

from dataclasses import dataclass

from morec_core.data.dataset import PreparedDataset


@dataclass(frozen=True, kw_only=True)
class DatasetStats:
    users: int
    """n"""
    items: int
    """m"""
    train: int
    """|R|^train: all interactions but each user's last two."""
    valid: int
    """|R|^valid: one per user."""
    test: int
    """|R|^test: one per user."""

    @property
    def density(self) -> float:
        """|R|^train / (n m), as in Table 1 (a fraction: 0.000167 is 0.0167%)."""
        return self.train / (self.users * self.items) if self.users and self.items else 0.0


def dataset_stats(dataset: PreparedDataset) -> DatasetStats:
    users = dataset.num_users
    return DatasetStats(users=users, items=dataset.num_items,
                        train=dataset.num_interactions - 2 * users, valid=users, test=users)
