"""The backbone (user encoder) contract shared by every entry of the registry.

A backbone turns what a batch says about a user into user vectors that are scored against item
vectors by a dot product. Its `kind` decides which batches feed it; the trainer and the batch
builders switch on `kind`, never on a backbone's name:

- "sequence": SequenceBatch in training (seq2seq, a state per position; SASRec, and GRU4Rec or
  NextItNet as new modules), EvalBatch.inputs at evaluation.
- "user": PairBatch in training (one state per <user, item> pair; DSSM), EvalBatch.users.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import torch
from torch import nn

from morec_core.data.batches import EvalBatch, TrainBatch

BACKBONE_KINDS = ("sequence", "user")

ItemLookup = Callable[[torch.Tensor], torch.Tensor]
"""Item ids of any shape (...) -> item vectors (..., d), already through the item tower."""


BatchT = TypeVar("BatchT", bound=TrainBatch, contravariant=True)
"""The training batch of a backbone's kind: SequenceBatch for "sequence", PairBatch for "user".
Callers that pick batches by `kind` at run time hold a `Backbone[Any]`."""


class Backbone(Protocol[BatchT]):
    """An nn.Module with this interface."""

    kind: str
    """"sequence" or "user": which batches feed this backbone."""

    def item_tower(self, item_vectors: torch.Tensor) -> torch.Tensor:
        """(N, d) item encoder outputs -> (N, d) vectors scored against the user states.
        Identity for SASRec; DSSM's item-side MLP."""
        ...

    def train_states(self, batch: BatchT, embed: ItemLookup) -> torch.Tensor:
        """-> (*batch.targets.shape, d): the user state that predicts each target.
        (B, W, d) for "sequence", (B, d) for "user"."""
        ...

    def user_state(self, batch: EvalBatch, embed: ItemLookup) -> torch.Tensor:
        """-> (B, d): the state that predicts batch.targets."""
        ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        """nn.Module's: the trainable ones join the optimizer's "rest" group."""
        ...
