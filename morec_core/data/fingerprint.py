"""A data fingerprint: what a run trained on, as hashes of the prepared dataset plus its counts.

Two runs whose fingerprints are equal saw the same users, the same items, the same sequence of
every user, the same validation and test targets and the same item content, whatever machine or
folder prepared the data: every part hashes source ids and content, never paths, file times or
internal ids. A different deduplication, another order of tied timestamps, a changed title or
image changes a part, and `differences` names which one (`morec compare` refuses to pair such
arms, as it refuses a protocol mismatch).

The parts (each a sha256 of JSON, 16 hex digits):
- users: the source's user ids, in the prepared order;
- items: the source's item ids of items 1..m;
- sequences: each user's training part (all but the last two items), as source item ids;
- split targets: each user's validation and test item (the second last and the last);
- item content: the titles (data.modality=text) or the image files' bytes (image), by item.

A fingerprint is computed once per prepared folder and modality, and kept beside the prepared
arrays (`fingerprint-<modality>.json`): a prepared folder never changes once written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from morec_core.data.atomic import atomic_file
from morec_core.data.dataset import PreparedDataset

PARTS = ("users", "items", "sequences", "split targets", "item content")
FINGERPRINT_VERSION = 1
NO_FINGERPRINT = "no fingerprint"
"""What a row of runs none of which recorded a fingerprint shows instead of one."""
NO_FINGERPRINT_WHY = ("none of its runs recorded one: runs of an older morec, or runs that "
                      "stopped before their data was read")
"""Why a row has no fingerprint (an arm whose runs all collapsed or failed still has one)."""


@dataclass(frozen=True, kw_only=True)
class DataFingerprint:
    digest: str
    """16 hex digits over every part: equal digests, equal data."""
    parts: dict[str, str]
    """PARTS -> 16 hex digits."""
    users: int
    items: int
    interactions: int
    modality: str
    """Which item content was hashed: text (titles) or image (image bytes)."""
    dataset: str = ""
    """The prepared dataset's name (its raw folder's name); a label, not hashed."""
    version: int = FINGERPRINT_VERSION

    @property
    def short(self) -> str:
        return self.digest[:8]

    def describe(self) -> str:
        """e.g. `data fingerprint 1a2b3c4d (610 users, 9,724 items, 100,836 interactions)`."""
        return (f"data fingerprint {self.short} ({self.users:,} users, {self.items:,} items, "
                f"{self.interactions:,} interactions)")

    def differences(self, other: DataFingerprint) -> list[str]:
        """What differs, in words: counts first (users 610 vs 600), then the parts whose hashes
        differ; empty when the two are the same data."""
        if self.digest == other.digest:
            return []
        counts = [f"{name} {mine:,} vs {theirs:,}" for name, mine, theirs in (
            ("users", self.users, other.users), ("items", self.items, other.items),
            ("interactions", self.interactions, other.interactions)) if mine != theirs]
        found = [f"counts ({', '.join(counts)})"] if counts else []
        if self.modality != other.modality:
            found.append(f"item content (modality {self.modality} vs {other.modality})")
        found += [part for part in PARTS if self.parts.get(part) != other.parts.get(part)
                  and not (part == "item content" and self.modality != other.modality)]
        return found or ["version"]

    def to_json(self) -> str:
        return json.dumps({"digest": self.digest, "parts": self.parts, "users": self.users,
                           "items": self.items, "interactions": self.interactions,
                           "modality": self.modality, "dataset": self.dataset,
                           "version": self.version}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DataFingerprint | None:
        """None for '' (a run recorded before fingerprints) or a value this morec cannot read."""
        if not text:
            return None
        try:
            raw = json.loads(text)
            return cls(digest=str(raw["digest"]), parts={str(k): str(v) for k, v in
                                                         dict(raw["parts"]).items()},
                       users=int(raw["users"]), items=int(raw["items"]),
                       interactions=int(raw["interactions"]), modality=str(raw["modality"]),
                       dataset=str(raw.get("dataset", "")),
                       version=int(raw.get("version", FINGERPRINT_VERSION)))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def _hash(value: object) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()[:16]


def _file_hash(path: str) -> str:
    """sha256 of an image file's bytes ('' for no image, 'missing' for a path that is gone)."""
    if not path:
        return ""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return "missing"
    return digest.hexdigest()


def compute(dataset: PreparedDataset, modality: str) -> DataFingerprint:
    """The fingerprint of `dataset` with the item content of `modality` (text | image)."""
    raw_ids = np.asarray(dataset.content.raw_ids, dtype=object)  # (num_items + 1,)
    lengths = dataset.lengths  # (U,)
    user_of = np.repeat(np.arange(dataset.num_users), lengths)  # (N,)
    position = np.arange(dataset.num_interactions) - dataset.offsets[user_of]
    in_train = position < (lengths[user_of] - 2)
    sequences = [lengths.tolist(), raw_ids[dataset.items[in_train]].tolist()]
    targets = [raw_ids[dataset.valid_targets()].tolist(),
               raw_ids[dataset.test_targets()].tolist()]
    if modality == "image":
        content: list[str] = [_file_hash(path) for path in dataset.content.image_paths[1:]]
    else:
        content = list(dataset.content.titles[1:])
    parts = {"users": _hash(list(dataset.raw_user_ids)),
             "items": _hash(list(dataset.content.raw_ids[1:])),
             "sequences": _hash(sequences), "split targets": _hash(targets),
             "item content": _hash([modality, content])}
    return DataFingerprint(digest=_hash([FINGERPRINT_VERSION, [parts[p] for p in PARTS]]),
                           parts=parts, users=dataset.num_users, items=dataset.num_items,
                           interactions=dataset.num_interactions, modality=modality,
                           dataset=dataset.name)


def of_prepared(folder: Path, dataset: PreparedDataset, modality: str) -> DataFingerprint:
    """The fingerprint of the dataset prepared in `folder`, computed once and kept there. A
    folder this user cannot write (a shared data folder) is fingerprinted each time."""
    cached = folder / f"fingerprint-{modality}.json"
    if cached.is_file():
        found = DataFingerprint.from_json(cached.read_text("utf-8"))
        if found is not None and found.version == FINGERPRINT_VERSION:
            return found
    fingerprint = compute(dataset, modality)
    try:
        with atomic_file(cached) as temporary:
            temporary.write_text(fingerprint.to_json(), "utf-8")
    except OSError:
        pass  # read-only folder: computing it again next time is correct, only slower
    return fingerprint
