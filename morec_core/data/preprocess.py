"""The paper's preprocessing (3.1, 3.4), identical for every source. The steps, in this order:

1. Chronological order: rows sorted by user, then by `order`; the sort is stable, so rows with
   equal order (same second, same day, or no timestamps) keep their file order.
2. Deduplication (`dedupe="first"`): a repeated (user, item) pair keeps its first, i.e.
   earliest, occurrence (the paper's Bili: "merged all user interactions chronologically and
   removed duplicates"). `dedupe="keep"` keeps repeats, to match counts published without it.
3. User subsample (`user_sample` > 0): that many users drawn without replacement with
   numpy's default_rng(`sample_seed`) from all users, listed in natural id order (everyone
   is kept when there are no more than `user_sample` users). It comes
   before the filters because the paper first "randomly select[s] ... users", then removes
   short users; a subsample therefore holds fewer than `user_sample` users after step 4.
4. User filter: users with fewer than `min_user_interactions` interactions are dropped.
5. Latest N: each user keeps their latest `max_seq_len` interactions.
6. Warm-K (`warm_min_item_interactions` = K > 0, Table 3): items with fewer than K
   interactions in the result of step 5 (the regular dataset of Table 1) are dropped, then the
   user filter of step 4 is applied once more. See `views.warm_view`, which does exactly this
   to an already prepared dataset.
7. Ids: items still present get 1..num_items in natural order of their raw ids (0 is padding);
   users get 0..num_users-1 likewise. Items no longer present leave the item table.

Leave-one-out (3.4) is positional and lives in `PreparedDataset`: last item = test target,
second last = validation target, the rest = training. Where equal `order` values (ties) fall
among a user's last three interactions, the file order decides which item is the validation or
test target: the report carries a warning with the number of such users.
Content filtering (items without text or image) happens before step 1, in `prepare`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from morec_core.data.audit import DataAudit
from morec_core.data.dataset import ItemContent, PreparedDataset
from morec_core.data.errors import DataError
from morec_core.data.raw import RawDataset, natural_order
from morec_core.data.views import warm_view


@dataclass(frozen=True, kw_only=True)
class StepCount:
    step: str
    users: int
    items: int
    interactions: int


@dataclass(frozen=True, kw_only=True)
class PrepareReport:
    """What each step left, for `morec data info` and for checking a preparation by eye."""

    steps: tuple[StepCount, ...]
    warnings: tuple[str, ...] = ()
    """One line each, e.g. ties among users' last interactions; printed by `morec data`."""
    audit: DataAudit | None = None
    """What the reader's data holds (content, repeats, ties); None from `preprocess` alone."""

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [vars(step) for step in self.steps], "warnings": list(self.warnings),
                "audit": self.audit.to_dict() if self.audit is not None else None}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PrepareReport:
        """raw: as to_dict made it, read back from JSON."""
        steps = (StepCount(**step) for step in raw["steps"])
        found = raw.get("audit")
        return cls(steps=tuple(steps), warnings=tuple(raw.get("warnings", ())),
                   audit=DataAudit.from_dict(found) if found else None)


def _count(step: str, users: np.ndarray, items: np.ndarray) -> StepCount:
    return StepCount(step=step, users=len(np.unique(users)), items=len(np.unique(items)),
                     interactions=len(users))


def preprocess(raw: RawDataset, *, min_user_interactions: int, max_seq_len: int,
               user_sample: int = 0, sample_seed: int = 0,
               warm_min_item_interactions: int = 0, dedupe: str = "first"
               ) -> tuple[PreparedDataset, PrepareReport]:
    """Apply steps 1-7 of the module docstring to `raw`."""
    user_codes, user_names = pd.factorize(raw.interactions["user"], sort=False)
    item_codes, item_names = pd.factorize(raw.interactions["item"], sort=False)
    user_names = np.asarray(user_names, dtype=str)
    item_names = np.asarray(item_names, dtype=str)
    steps = [_count("read", user_codes, item_codes)]

    # 1. (rows,) permutation: by user, then chronologically; lexsort is stable.
    orders = raw.interactions["order"].to_numpy()
    by_time = np.lexsort((orders, user_codes))
    users, items, orders = user_codes[by_time], item_codes[by_time], orders[by_time]

    # 2. The first occurrence of each (user, item) pair; np.unique's return_index is the first.
    if dedupe == "first":
        pair = users.astype(np.int64) * max(len(item_names), 1) + items
        first = np.zeros(len(pair), dtype=bool)
        first[np.unique(pair, return_index=True)[1]] = True
        users, items, orders = users[first], items[first], orders[first]
        steps.append(_count("deduplicated", users, items))
    elif dedupe == "keep":
        steps.append(_count("repeated pairs kept (dedupe=keep)", users, items))
    else:
        raise ValueError(f"dedupe must be first or keep, got {dedupe!r}")

    # 3. Seeded subsample of users, drawn from a file-order-independent list.
    if user_sample > 0:
        present = np.unique(users)
        listed = present[natural_order(user_names[present])]
        if user_sample < len(listed):
            rng = np.random.default_rng(sample_seed)
            chosen = listed[rng.choice(len(listed), size=user_sample, replace=False)]
            keep = np.isin(users, chosen)
            users, items, orders = users[keep], items[keep], orders[keep]
        steps.append(_count(f"sampled {user_sample} users (seed {sample_seed})", users, items))

    # 4. Users with too few interactions leave.
    counts = np.bincount(users, minlength=len(user_names))
    keep = counts[users] >= min_user_interactions
    users, items, orders = users[keep], items[keep], orders[keep]
    steps.append(_count(f"users with >= {min_user_interactions}", users, items))

    # 5. Latest N per user: rows are grouped by user, so the distance to the group's end works.
    _, starts, lengths = np.unique(users, return_index=True, return_counts=True)
    group_end = np.repeat(starts + lengths, lengths)
    keep = group_end - np.arange(len(users)) <= max_seq_len
    users, items, orders = users[keep], items[keep], orders[keep]
    steps.append(_count(f"latest {max_seq_len} per user", users, items))
    warnings = _tie_warnings(users, orders)

    if len(users) == 0:
        raise DataError(f"no interactions left after the filters (min_user_interactions="
                        f"{min_user_interactions})", path=raw.name,
                        field="data.min_user_interactions")
    dataset = _assemble(raw, users, items, user_names, item_names)

    # 6. Warm-K on the regular dataset.
    if warm_min_item_interactions > 0:
        dataset = warm_view(dataset, min_item_interactions=warm_min_item_interactions,
                            min_user_interactions=min_user_interactions)
        steps.append(StepCount(step=f"warm-{warm_min_item_interactions}",
                               users=dataset.num_users, items=dataset.num_items,
                               interactions=dataset.num_interactions))
    return dataset, PrepareReport(steps=tuple(steps), warnings=warnings)


def _tie_warnings(users: np.ndarray, orders: np.ndarray) -> tuple[str, ...]:
    """A warning when equal orders fall among a user's last three interactions: the stable
    sort then lets the file order pick the validation and test targets.

    users, orders: (rows,) grouped by user, chronological within each user."""
    if len(users) < 2:
        return ()
    _, starts, lengths = np.unique(users, return_index=True, return_counts=True)
    group_end = np.repeat(starts + lengths, lengths)
    from_end = group_end - np.arange(len(users))  # 1 for a user's last row
    # Row r ties with row r + 1 of the same user, r + 1 among the last two (so r among the
    # last three): a tie further back only reorders training items.
    same_user = users[1:] == users[:-1]
    tied = same_user & (orders[1:] == orders[:-1]) & (from_end[1:] <= 2)
    tied_users = len(np.unique(users[1:][tied]))
    if not tied_users:
        return ()
    return (f"{tied_users:,} of {len(starts):,} users have equal timestamps among their last "
            f"three interactions: the file order decides their validation and test items",)


def _assemble(raw: RawDataset, users: np.ndarray, items: np.ndarray, user_names: np.ndarray,
              item_names: np.ndarray) -> PreparedDataset:
    """Step 7: contiguous ids in natural order, CSR arrays, and the surviving items' content."""
    kept_items = np.unique(items)
    kept_items = kept_items[natural_order(item_names[kept_items])]
    item_id = np.zeros(len(item_names), dtype=np.int64)
    item_id[kept_items] = np.arange(1, len(kept_items) + 1)

    kept_users = np.unique(users)
    kept_users = kept_users[natural_order(user_names[kept_users])]
    user_id = np.zeros(len(user_names), dtype=np.int64)
    user_id[kept_users] = np.arange(len(kept_users))

    # Rows are chronological within each user; a stable sort by new user id keeps that.
    new_users = user_id[users]
    by_user = np.argsort(new_users, kind="stable")
    offsets = np.zeros(len(kept_users) + 1, dtype=np.int64)
    np.cumsum(np.bincount(new_users, minlength=len(kept_users)), out=offsets[1:])

    raw_ids = item_names[kept_items].tolist()
    table = raw.items.drop_duplicates("item").set_index("item")
    # Object columns: items absent from the table come back as NaN, which makes a column of
    # them float64, where fillna("") is a pandas 4 error.
    found = table.reindex(raw_ids).astype({"title": object, "image_path": object})
    content = ItemContent(
        raw_ids=[""] + raw_ids,
        titles=[""] + found["title"].fillna("").astype(str).tolist(),
        image_paths=[""] + found["image_path"].fillna("").astype(str).tolist(),
    )
    return PreparedDataset(name=raw.name, offsets=offsets, items=item_id[items][by_user],
                           num_items=len(kept_items), content=content,
                           raw_user_ids=user_names[kept_users].tolist())
