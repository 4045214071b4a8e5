"""The item-encoder contract shared by every entry of the registry.

An item encoder maps item ids to d-dimensional vectors. IDRec's is an embedding table; MoRec's
is a pretrained modality encoder (ME) followed by the paper's DT-layer (a linear map to d).

Optional hooks are protocols of their own, found with `isinstance`: `SupportsPrecomputeFrozen`
and `SupportsCompileNetwork` on any module of the model (build_run), `SupportsEveryItem` on the
item encoder itself (Recommender's full softmax).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True, kw_only=True)
class EncoderInputs:
    """What an encoder may read about items 0..num_items (row 0 is the padding item).

    Built once per run by the trainer from the prepared dataset and its content caches; an
    encoder keeps what it needs (as buffers or memory maps) and indexes it by item id.
    """

    num_items: int
    token_ids: np.ndarray | None = None
    """(num_items + 1, T) int32 token ids from this encoder's tokenizer, right-padded with its
    pad token (not always 0: RoBERTa's is 1); build attention masks from `token_lengths`."""
    token_lengths: np.ndarray | None = None
    """(num_items + 1,) int32 number of real tokens of each title."""
    images: np.ndarray | None = None
    """(num_items + 1, S, S, 3) uint8 images, usually a read-only memory map."""
    titles: list[str] | None = None
    """Raw item text, for encoders that tokenize themselves (glove)."""
    feature_cache_dir: Path | None = None
    """Where a two-stage encoder caches the frozen features it extracts (None: no caching)."""


class ItemEncoder(Protocol):
    """An nn.Module with this interface (and, where it has them, the optional hooks below)."""

    output_dim: int
    """d, the dimension of the vectors returned by forward."""

    def __call__(self, item_ids: torch.Tensor) -> torch.Tensor:
        """item_ids: (N,) int64 in 0..num_items -> (N, d) float item vectors."""
        ...

    def parameter_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        """Trainable parameters by optimizer group: "encoder" holds the pretrained modality
        encoder's (trained with train.lr_encoder), "rest" everything else (train.lr).
        Frozen parameters appear in no group."""
        ...


@runtime_checkable
class SupportsPrecomputeFrozen(Protocol):
    """A module whose frozen lower layers can be run once over every item (top-k fine-tuning)."""

    def precompute_frozen(self, batch_size: int) -> None:
        """Cache the output of the frozen layers for every item, batch_size items at a time, on
        the module's device (call it after moving the module); forward then runs only the
        trained layers. Called when encoder.mode=e2e and encoder.finetune_layers > 0."""
        ...


@runtime_checkable
class SupportsCompileNetwork(Protocol):
    """A module holding a pretrained network that can run compiled (train.compile)."""

    def compile_network(self) -> None:
        """torch.compile the network in place, keeping parameter names (so checkpoints are
        unchanged); called after the model is on its device."""
        ...


@runtime_checkable
class SupportsEveryItem(Protocol):
    """An item encoder that holds its item vectors as one table (the ID embedding)."""

    def every_item(self) -> torch.Tensor:
        """(num_items, d) the vectors of items 1..num_items, equal to forward(arange(1, I + 1)),
        read from the table without a gather (the full softmax's catalogue)."""
        ...
