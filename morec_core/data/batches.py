"""Numpy-vectorized batches: training batches per backbone kind, evaluation batches per split.

Leave-one-out (paper 3.4): of a user's chronological sequence, the last item is the test target,
the second last the validation target, the rest is training data. Every loop below runs over
batches or rejection rounds, never over users.

Sequences are left-padded with item 0, so the newest item is always the last column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import Field, dataclass
from typing import Any, ClassVar, Protocol, Self

import numpy as np
import torch

from morec_core.data.dataset import PreparedDataset

SPLITS = ("valid", "test")
_MAX_REJECTION_ROUNDS = 1000


class _TensorBatch:
    """Frozen dataclasses of tensors that move to a device together."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]  # set by @dataclass on each subclass

    def to(self, device: torch.device | str) -> Self:
        moved = {field.name: getattr(self, field.name).to(device, non_blocking=True)
                 for field in dataclasses.fields(self)}
        return dataclasses.replace(self, **moved)


@dataclass(frozen=True)
class SequenceBatch(_TensorBatch):
    """Seq2seq training (SASRec): predict item t+1 from items 1..t at every position."""

    users: torch.Tensor
    """(B,) int64 user indices."""
    inputs: torch.Tensor
    """(B, w) int64 input items, left-padded with 0; w is the batch's longest, at most W."""
    targets: torch.Tensor
    """(B, w) int64 next item of each input position; 0 where the input is padding."""
    negatives: torch.Tensor
    """(B, w) int64 one sampled negative per target; 0 where the target is padding."""

    def item_ids(self, negatives: bool = True) -> torch.Tensor:
        """Every item id the batch refers to, flattened (for encoding each distinct item once);
        negatives=False leaves out the sampled negatives (a loss that does not read them)."""
        parts = [self.inputs.flatten(), self.targets.flatten()]
        return torch.cat([*parts, self.negatives.flatten()] if negatives else parts)


@dataclass(frozen=True)
class PairBatch(_TensorBatch):
    """Pointwise training (DSSM): one <user, positive> pair and one negative per row."""

    users: torch.Tensor
    """(B,) int64 user indices."""
    targets: torch.Tensor
    """(B,) int64 positive items."""
    negatives: torch.Tensor
    """(B,) int64 sampled negative items."""

    def item_ids(self, negatives: bool = True) -> torch.Tensor:
        return torch.cat([self.targets, self.negatives]) if negatives else self.targets


@dataclass(frozen=True)
class EvalBatch(_TensorBatch):
    users: torch.Tensor
    """(B,) int64 user indices."""
    inputs: torch.Tensor
    """(B, H) int64 every item before the target, left-padded; a backbone keeps its window."""
    targets: torch.Tensor
    """(B,) int64 the held-out item."""
    history: torch.Tensor
    """(B, H) int64 the inputs with the target's own earlier occurrences set to 0: the items
    taken out of the ranking when history masking is on."""


TrainBatch = SequenceBatch | PairBatch


@dataclass(frozen=True, kw_only=True)
class TrainingData:
    """What every epoch's batches are cut from; built once per run by `training_data`."""

    num_items: int
    sequence_users: np.ndarray
    """(S,) users with at least one (input, target) pair."""
    sequence_inputs: np.ndarray
    """(S, W) int32 training inputs (items[:-3] of each user), left-padded to W = max_length."""
    sequence_targets: np.ndarray
    """(S, W) int32 training targets (items[1:-2]), aligned with the inputs."""
    pair_users: np.ndarray
    """(R,) int64 user of each training interaction."""
    pair_items: np.ndarray
    """(R,) int64 item of each training interaction."""
    seen_keys: np.ndarray
    """(R',) int64 sorted unique user * (num_items + 1) + item over training interactions:
    the pairs a negative must not be."""


def input_length(dataset: PreparedDataset, cap: int | None = None) -> int:
    """The backbone window W: the longest training input (sequence length - 3), at most cap."""
    longest = max(int(dataset.lengths.max()) - 3, 1)
    return longest if cap is None else max(min(longest, cap), 1)


def training_data(dataset: PreparedDataset, max_length: int) -> TrainingData:
    """Cut the training part (all but the last two items) of every user, once per run."""
    starts = dataset.offsets[:-1]
    train_lengths = np.maximum(dataset.lengths - 2, 0)  # (U,)
    ends = starts + train_lengths
    has_pair = train_lengths >= 2
    inputs = _left_padded(dataset.items, starts, ends - 1, max_length)  # (U, W)
    targets = _left_padded(dataset.items, starts + 1, ends, max_length)

    pair_users = np.repeat(np.arange(dataset.num_users, dtype=np.int64), train_lengths)
    positions = np.arange(len(pair_users)) - np.repeat(np.cumsum(train_lengths) - train_lengths,
                                                       train_lengths)
    pair_items = dataset.items[starts[pair_users] + positions].astype(np.int64)
    return TrainingData(
        num_items=dataset.num_items,
        sequence_users=np.flatnonzero(has_pair),
        sequence_inputs=inputs[has_pair].astype(np.int32),
        sequence_targets=targets[has_pair].astype(np.int32),
        pair_users=pair_users,
        pair_items=pair_items,
        seen_keys=np.unique(pair_users * (dataset.num_items + 1) + pair_items),
    )


def train_batches(data: TrainingData, kind: str, *, batch_size: int,
                  rng: np.random.Generator) -> Iterator[TrainBatch]:
    """One epoch of shuffled batches for a backbone of this kind ("sequence" or "user").

    Negatives are drawn uniformly from 1..num_items, never an item of the user's training part
    (paper 2.1: <u, j> not in R), and re-drawn every epoch: pass a new Generator per epoch,
    e.g. np.random.default_rng([seed, epoch]), and the epoch is reproducible.
    """
    if kind not in _TRAIN_BATCHES:
        raise ValueError(f"no training batches for backbone kind {kind!r}; "
                         f"known: {', '.join(_TRAIN_BATCHES)}")
    return _TRAIN_BATCHES[kind](data, batch_size=batch_size, rng=rng)


def sequence_batches(data: TrainingData, *, batch_size: int,
                     rng: np.random.Generator) -> Iterator[SequenceBatch]:
    order = rng.permutation(len(data.sequence_users))
    for begin in range(0, len(order), batch_size):
        rows = order[begin:begin + batch_size]
        users = data.sequence_users[rows]
        # Cut to the batch's longest sequence: the columns left of it are padding in every row
        # (left-padded), which the backbone would only mask out again.
        inputs = data.sequence_inputs[rows]  # (B, W)
        width = int((inputs > 0).sum(axis=1).max())
        inputs = inputs[:, -width:].astype(np.int64)  # (B, w), w <= W
        targets = data.sequence_targets[rows, -width:].astype(np.int64)  # (B, w)
        negatives = sample_negatives(data, np.broadcast_to(users[:, None], targets.shape), rng)
        negatives[targets == 0] = 0
        yield SequenceBatch(
            users=torch.from_numpy(users.astype(np.int64)),
            inputs=torch.from_numpy(inputs),
            targets=torch.from_numpy(targets),
            negatives=torch.from_numpy(negatives),
        )


def pair_batches(data: TrainingData, *, batch_size: int,
                 rng: np.random.Generator) -> Iterator[PairBatch]:
    order = rng.permutation(len(data.pair_users))
    for begin in range(0, len(order), batch_size):
        rows = order[begin:begin + batch_size]
        users = data.pair_users[rows]
        yield PairBatch(
            users=torch.from_numpy(users),
            targets=torch.from_numpy(data.pair_items[rows]),
            negatives=torch.from_numpy(sample_negatives(data, users, rng)),
        )


class _EpochBatches(Protocol):
    def __call__(self, data: TrainingData, *, batch_size: int,
                 rng: np.random.Generator) -> Iterator[TrainBatch]: ...


_TRAIN_BATCHES: dict[str, _EpochBatches] = {"sequence": sequence_batches, "user": pair_batches}


def sample_negatives(data: TrainingData, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """users: any shape -> same shape int64 items in 1..num_items the user has not trained on.

    Rejection sampling in rounds over all entries at once; a round redraws only the rejected.
    """
    users = np.asarray(users, dtype=np.int64)
    negatives = rng.integers(1, data.num_items + 1, size=users.shape, dtype=np.int64)
    rejected = _seen(data, users, negatives)
    for _ in range(_MAX_REJECTION_ROUNDS):
        if not rejected.any():
            return negatives
        negatives[rejected] = rng.integers(1, data.num_items + 1, size=int(rejected.sum()))
        rejected &= _seen(data, users, negatives)
    raise ValueError("could not sample negatives: some user has trained on (almost) every item")


def _seen(data: TrainingData, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    keys = users * (data.num_items + 1) + items
    where = np.searchsorted(data.seen_keys, keys).clip(max=len(data.seen_keys) - 1)
    return data.seen_keys[where] == keys


def eval_batches(dataset: PreparedDataset, split: str, *, batch_size: int,
                 user_subset: np.ndarray | None = None) -> Iterator[EvalBatch]:
    """Batches of users with their held-out target: valid predicts items[-2] from items[:-2],
    test predicts items[-1] from items[:-1]. user_subset: user indices (cold/new-item views)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    held_out = 2 if split == "valid" else 1
    users = (np.arange(dataset.num_users) if user_subset is None
             else np.asarray(user_subset, dtype=np.int64))
    for begin in range(0, len(users), batch_size):
        chunk = users[begin:begin + batch_size]
        starts = dataset.offsets[chunk]
        target_positions = dataset.offsets[chunk + 1] - held_out
        width = max(int((target_positions - starts).max()), 1) if len(chunk) else 1
        inputs = _left_padded(dataset.items, starts, target_positions, width).astype(np.int64)
        targets = dataset.items[target_positions].astype(np.int64)
        history = np.where(inputs == targets[:, None], 0, inputs)
        yield EvalBatch(
            users=torch.from_numpy(chunk.astype(np.int64)),
            inputs=torch.from_numpy(inputs),
            targets=torch.from_numpy(targets),
            history=torch.from_numpy(history),
        )


def _left_padded(items: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """The last `width` items of each items[start:end], left-padded with 0 -> (N, width)."""
    index = ends[:, None] - width + np.arange(width)[None, :]  # (N, width)
    inside = index >= starts[:, None]
    return np.where(inside, items[np.where(inside, index, 0)], 0)
