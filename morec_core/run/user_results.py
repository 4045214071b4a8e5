"""Per-user results of one evaluated split: where each user's target stood in the ranking.

For every user the evaluation keeps two counts: `greater`, the items scored strictly above the
target (capped at k: past it HR@k and NDCG@k are 0 whatever the exact rank), and `equal`, the
other items scored exactly as the target (exact whenever greater < k). HR@k and NDCG@k of every
user follow under each tie rule, so the store keeps these counts, not metric values, and paired
statistics (`morec_core.results.stats`) read the metrics per user from them.

Tie rules (`eval.ties`):
- expected: the expected HR@k / NDCG@k under uniformly random tie-breaking, the target's rank
  being equally likely to be any of greater .. greater + equal. A model whose scores are all
  equal then scores exactly at random level (HR@k = k / #items), not perfectly.
- optimistic: rank = greater (the paper's code; ties flatter the target).
- pessimistic: rank = greater + equal.

numpy only: the store and `morec compare` read these without torch.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

import numpy as np

TIE_RULES = ("expected", "optimistic", "pessimistic")


@dataclass(frozen=True, kw_only=True, eq=False)
class UserResults:
    users: np.ndarray
    """(U,) int64 user indices of the prepared dataset, ascending."""
    greater: np.ndarray
    """(U,) int64 items scored above the target, capped at k (k: a miss)."""
    equal: np.ndarray
    """(U,) int64 other items scored as the target; 0 where greater == k (not counted)."""
    k: int
    """The cut-off these counts were taken at."""

    def __post_init__(self) -> None:
        if not (self.users.shape == self.greater.shape == self.equal.shape) or self.users.ndim != 1:
            raise ValueError("user results: users, greater and equal must be (U,) arrays")

    def __len__(self) -> int:
        return len(self.users)

    def hits(self, ties: str, k: int | None = None) -> np.ndarray:
        """(U,) float64 HR@k of each user under the tie rule (k defaults to, and may not exceed,
        the recorded cut-off)."""
        k = self._cutoff(k)
        first, last = self._rank_span(ties)  # the target's rank is in first .. last
        return np.clip(k - first, 0, last - first + 1) / (last - first + 1)

    def gains(self, ties: str, k: int | None = None) -> np.ndarray:
        """(U,) float64 NDCG@k of each user (one relevant item: ideal DCG 1) under the tie rule."""
        k = self._cutoff(k)
        first, last = self._rank_span(ties)
        # cumulative[j] = sum of 1 / log2(r + 2) for r < j: the gain of every rank in
        # first .. min(last, k - 1), averaged over the span's equally likely ranks.
        cumulative = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(k) + 2.0))])
        inside = cumulative[np.minimum(last + 1, k)] - cumulative[np.minimum(first, k)]
        return inside / (last - first + 1)

    def tied(self, k: int | None = None) -> np.ndarray:
        """(U,) bool: the target tied with at least one other item within reach of the top k."""
        return (self.greater < self._cutoff(k)) & (self.equal > 0)

    def metrics(self, ties: str, k: int | None = None) -> dict[str, float]:
        """{"hr@k", "ndcg@k": means over users, "ties@k": share of users whose target tied,
        "users": count}."""
        k = self._cutoff(k)
        count = len(self)
        if count == 0:
            return {f"hr@{k}": 0.0, f"ndcg@{k}": 0.0, f"ties@{k}": 0.0, "users": 0}
        return {f"hr@{k}": float(self.hits(ties, k).mean()),
                f"ndcg@{k}": float(self.gains(ties, k).mean()),
                f"ties@{k}": float(self.tied(k).mean()), "users": count}

    def values(self, metric: str, ties: str) -> np.ndarray:
        """(U,) per-user values of a metric named as recorded, e.g. "hr@10" or "ndcg@10"."""
        name, _, cutoff = metric.partition("@")
        if name not in ("hr", "ndcg") or not cutoff.isdigit():
            raise ValueError(f"no per-user values for metric {metric!r}; known: hr@k, ndcg@k")
        return (self.hits if name == "hr" else self.gains)(ties, int(cutoff))

    def _cutoff(self, k: int | None) -> int:
        if k is None:
            return self.k
        if not 1 <= k <= self.k:
            raise ValueError(f"user results were counted at k={self.k}; cannot read k={k}")
        return k

    def _rank_span(self, ties: str) -> tuple[np.ndarray, np.ndarray]:
        if ties not in TIE_RULES:
            raise ValueError(f"unknown tie rule {ties!r}; known: {', '.join(TIE_RULES)}")
        first = self.greater.astype(np.int64)
        equal = self.equal.astype(np.int64)
        if ties == "optimistic":
            return first, first
        if ties == "pessimistic":
            return first + equal, first + equal
        return first, first + equal

    # --- storage: a compressed .npz, read back without pickle (nothing read runs code) -------

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        # Users ascend, so their gaps are mostly 1 and compress to almost nothing; greater is
        # mostly k (misses), equal mostly 0. 50,000 users take about 60-90 KB.
        gaps = np.diff(self.users, prepend=0).astype(np.int32)
        np.savez_compressed(buffer, user_gaps=gaps, greater=_narrow(self.greater),
                            equal=self.equal.astype(np.int32), k=np.array([self.k], np.int64))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> UserResults:
        """The results `to_bytes` wrote. ValueError for a blob that is not one: its members and
        their declared sizes are checked before anything is decompressed (a zip bomb of a few
        kB would otherwise unpack to gigabytes), and zipfile never reads past a declared size."""
        _check_archive(blob)
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            return cls(users=np.cumsum(arrays["user_gaps"].astype(np.int64)),
                       greater=arrays["greater"].astype(np.int64),
                       equal=arrays["equal"].astype(np.int64), k=int(arrays["k"][0]))

    @classmethod
    def concatenate(cls, parts: list[UserResults], k: int) -> UserResults:
        """Batches of one evaluation, in user order, as one result."""
        if not parts:
            empty = np.zeros(0, np.int64)
            return cls(users=empty, greater=empty, equal=empty, k=k)
        return cls(users=np.concatenate([part.users for part in parts]),
                   greater=np.concatenate([part.greater for part in parts]),
                   equal=np.concatenate([part.equal for part in parts]), k=k)


def _narrow(values: np.ndarray) -> np.ndarray:
    """The smallest unsigned type that holds every value (greater <= k)."""
    top = int(values.max()) if len(values) else 0
    for dtype in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            return values.astype(dtype)
    return values.astype(np.int64)


BLOB_MEMBERS = frozenset({"user_gaps.npy", "greater.npy", "equal.npy", "k.npy"})
MAX_BLOB_UNPACKED_BYTES = 2**30
"""At most 16 bytes a user unpacked: 1 GiB holds 64 million users' results (50,000 take 0.8 MB)."""


def _check_archive(blob: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise ValueError(f"per-user results are not a .npz archive ({error})") from None
    names = {member.filename for member in members}
    if names != BLOB_MEMBERS or len(members) != len(BLOB_MEMBERS):
        raise ValueError(f"per-user results hold {sorted(names)[:6]}, not "
                         f"{sorted(BLOB_MEMBERS)}")
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_BLOB_UNPACKED_BYTES:
        raise ValueError(f"per-user results would unpack to {unpacked:,} bytes, more than the "
                         f"{MAX_BLOB_UNPACKED_BYTES:,} allowed: not read")
