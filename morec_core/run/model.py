"""Recommender = item encoder + backbone (paper Figure 1): IDRec and MoRec differ only in the
item encoder. Scores are dot products of user states and item vectors.

Training encodes each distinct item of a batch once: SASRec's inputs and targets overlap by all
but one position, and popular items recur across users, so an E2E text or image encoder runs on
far fewer items than the 3 x B x L the paper's code feeds it (issue 7).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from morec_core.backbones.base import Backbone, ItemLookup
from morec_core.data.batches import EvalBatch, TrainBatch
from morec_core.encoders.base import ItemEncoder, SupportsEveryItem

LossFunction = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, ItemLookup], torch.Tensor]


def bce_loss(states: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor,
             embed: ItemLookup) -> torch.Tensor:
    """Paper eq. (1): one sampled negative per positive.
    states: (M, d); targets, negatives: (M,) -> scalar."""
    positive = (states * embed(targets)).sum(-1)  # (M,)
    negative = (states * embed(negatives)).sum(-1)
    # Two means added, as the paper's code does (BCEWithLogits on positives + on negatives).
    return (F.binary_cross_entropy_with_logits(positive, torch.ones_like(positive))
            + F.binary_cross_entropy_with_logits(negative, torch.zeros_like(negative)))


def softmax_loss(states: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor,
                 embed: ItemLookup) -> torch.Tensor:
    """In-batch softmax: each state against every distinct positive of the batch.
    The sampled negatives are not used. states: (M, d); targets: (M,) -> scalar."""
    del negatives
    candidates = torch.unique(targets)  # (C,) sorted
    # One column per distinct item, so an item that is the positive of several positions is
    # never also a negative of them ("accidental hits" cannot occur).
    logits = states @ embed(candidates).T  # (M, C)
    labels = torch.searchsorted(candidates, targets)  # (M,)
    return F.cross_entropy(logits, labels)


def full_softmax_loss(states: torch.Tensor, targets: torch.Tensor,
                      table: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the whole catalogue (RecBole's CE): every item but the target is a
    negative. states: (M, d); targets: (M,) in 1..I; table: (I + 1, d), row 0 padding -> scalar.

    The whole catalogue goes through the item tower at every step, so this suits cheap item
    encoders only (ID embeddings, cached two-stage features); the config enforces it."""
    return _FullSoftmaxCrossEntropy.apply(states, table[1:], targets - 1)


class _FullSoftmaxCrossEntropy(torch.autograd.Function):
    """F.cross_entropy(states @ table.T, labels) with one exp pass over the (M, I) logits instead
    of two (log_softmax forward and backward), in place: 1.3x faster than the two library calls
    on one CPU core with I = 17K, where this loss is most of an IDRec step. float32 whatever
    the autocast: bf16 probabilities over 100K items would lose the target's. Its backward
    reuses the saved probabilities in place, so it runs once per forward (a second backward
    through a retained graph raises, as autograd sees the saved tensor modified)."""

    @staticmethod
    def forward(ctx, states: torch.Tensor, table: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        with torch.autocast(states.device.type, enabled=False):
            states32, table32 = states.float(), table.float()  # (M, d), (I, d)
            logits = states32 @ table32.T  # (M, I)
            label_logits = logits.gather(1, labels[:, None])  # (M, 1)
            top = logits.amax(dim=1, keepdim=True)  # (M, 1)
            probabilities = logits.sub_(top).exp_()  # in place: the logits are not needed again
            total = probabilities.sum(dim=1, keepdim=True)  # (M, 1)
            probabilities.div_(total)
            loss = (total.log() + top - label_logits).mean()
        ctx.dtypes = (states.dtype, table.dtype)
        ctx.save_for_backward(states32, table32, labels, probabilities)
        return loss

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        states32, table32, labels, probabilities = ctx.saved_tensors
        # d loss / d logits = (softmax - one-hot) / M, built in the saved probabilities.
        gradient = probabilities
        gradient[torch.arange(len(labels), device=labels.device), labels] -= 1.0
        gradient.mul_(grad.float() / len(labels))  # (M, I)
        states_dtype, table_dtype = ctx.dtypes
        return ((gradient @ table32).to(states_dtype), (gradient.T @ states32).to(table_dtype),
                None)


def sampled_softmax_loss(states: torch.Tensor, targets: torch.Tensor, sampled: torch.Tensor,
                         embed: ItemLookup) -> torch.Tensor:
    """Softmax over each position's target and K items drawn uniformly for the whole batch.
    states: (M, d); targets: (M,); sampled: (K,) -> scalar.

    The proposal is uniform, so the log-Q correction of sampled softmax is the same constant for
    every candidate and cancels: this estimates the full softmax (full_softmax) at K / I of its
    cost. A sampled item equal to a row's target is masked there (an "accidental hit")."""
    positive = (states * embed(targets)).sum(-1, keepdim=True)  # (M, 1)
    negative = states @ embed(sampled).T  # (M, K)
    negative = negative.masked_fill(sampled[None, :] == targets[:, None], float("-inf"))
    logits = torch.cat([positive, negative], dim=1)  # (M, 1 + K), the target in column 0
    return F.cross_entropy(logits, torch.zeros_like(targets))


LOSSES: dict[str, LossFunction] = {"bce": bce_loss, "softmax": softmax_loss,
                                   "sampled_softmax": sampled_softmax_loss}
KNOWN_LOSSES = (*LOSSES, "full_softmax")
PER_POSITION_NEGATIVES = ("bce",)
"""Losses that read the batch's own negatives (one per position); the others bring their own."""


class Recommender(nn.Module):
    item_encoder: ItemEncoder  # submodules (nn.Modules), registered in __init__
    backbone: Backbone[Any]  # trained on the batches of its kind (batches.train_batches)

    def __init__(self, item_encoder: ItemEncoder, backbone: Backbone[Any], loss: str = "bce", *,
                 num_items: int, sampled_negatives: int = 1024) -> None:
        super().__init__()
        if loss not in KNOWN_LOSSES:
            raise ValueError(f"unknown loss {loss!r}; known: {', '.join(KNOWN_LOSSES)}")
        self.item_encoder = item_encoder
        self.backbone = backbone
        self.loss_name = loss
        self.num_items = num_items
        self.sampled_negatives = sampled_negatives
        """K, the uniform negatives shared by a batch under loss=sampled_softmax."""

    @property
    def kind(self) -> str:
        """The backbone's kind: which batches this model trains on."""
        return self.backbone.kind

    def forward(self, batch: TrainBatch) -> torch.Tensor:
        """The training loss: DistributedDataParallel synchronises gradients through forward."""
        return self.loss(batch)

    def loss(self, batch: TrainBatch) -> torch.Tensor:
        """Mean training loss of one batch (SequenceBatch or PairBatch, matching the kind)."""
        real = batch.targets > 0  # padding positions carry no loss
        if self.loss_name == "full_softmax":
            full_table = self._every_vector(batch.targets.device)  # (I + 1, d)
            states = self.backbone.train_states(batch, lambda item_ids: full_table[item_ids])
            return full_softmax_loss(states[real], batch.targets[real], full_table)
        item_ids = batch.item_ids(negatives=self.loss_name in PER_POSITION_NEGATIVES)
        if self.loss_name == "sampled_softmax":
            # Drawn from torch's generator: seeded by the run, saved with its checkpoints.
            negatives = torch.randint(1, self.num_items + 1, (self.sampled_negatives,),
                                      device=item_ids.device)  # (K,)
            item_ids = torch.cat([item_ids, negatives])
        else:
            negatives = batch.negatives[real]
        distinct = torch.unique(item_ids)  # (U,) sorted, 0 first when present
        table = self._padded_vectors(distinct)  # (U, d)

        def embed(item_ids: torch.Tensor) -> torch.Tensor:
            return table[torch.searchsorted(distinct, item_ids)]  # (..., d)

        states = self.backbone.train_states(batch, embed)  # (*targets.shape, d)
        return LOSSES[self.loss_name](states[real], batch.targets[real], negatives, embed)

    @torch.no_grad()
    def item_table(self, batch_size: int = 256) -> torch.Tensor:
        """(num_items + 1, d) every item's vector through the item tower; row 0 is padding.

        Computed once per evaluation, batch_size items at a time; call in eval mode.
        """
        item_ids = torch.arange(1, self.num_items + 1, device=_device_of(self))
        vectors = [self._padded_vectors(item_ids[begin:begin + batch_size])
                   for begin in range(0, self.num_items, batch_size)]
        return torch.cat([vectors[0].new_zeros(1, vectors[0].shape[1]), *vectors])

    def _padded_vectors(self, item_ids: torch.Tensor) -> torch.Tensor:
        """item_ids: (N,) sorted -> (N, d) through encoder and item tower; item 0 gets zeros.

        The padding item is never encoded: an ME given empty content may return NaN, and a NaN
        value vector poisons attention even where its weight is 0 (0 * NaN = NaN).
        """
        padding = int((item_ids[:1] == 0).sum())  # 1 when item 0 is present (it sorts first)
        vectors = self.backbone.item_tower(self.item_encoder(item_ids[padding:]))  # (N - p, d)
        if padding:
            vectors = torch.cat([vectors.new_zeros(1, vectors.shape[1]), vectors])
        return vectors

    def _every_vector(self, device: torch.device) -> torch.Tensor:
        """(I + 1, d) every item through encoder and item tower, row 0 zeros, with gradients.
        An encoder that holds its table (the ID embedding) hands it over directly."""
        if not isinstance(self.item_encoder, SupportsEveryItem):
            return self._padded_vectors(torch.arange(self.num_items + 1, device=device))
        vectors = self.backbone.item_tower(self.item_encoder.every_item())  # (I, d)
        return torch.cat([vectors.new_zeros(1, vectors.shape[1]), vectors])

    def score_all(self, batch: EvalBatch, item_table: torch.Tensor) -> torch.Tensor:
        """-> (B, num_items + 1) float32 scores of every item; column 0 (padding) is -inf."""
        states = self.backbone.user_state(batch, lambda item_ids: item_table[item_ids])  # (B, d)
        # float32 even under autocast: bf16 scores (8-bit mantissa) tie often among 100K items,
        # and ties flatter the target under the optimistic rank.
        with torch.autocast(states.device.type, enabled=False):
            scores = states.float() @ item_table.float().T  # (B, I + 1)
        scores[:, 0] = float("-inf")
        return scores

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Trainable parameters by optimizer group: "encoder" (the pretrained ME, train.lr_encoder)
        and "rest" (everything else, train.lr)."""
        encoder_groups = self.item_encoder.parameter_groups()
        rest = list(encoder_groups["rest"])
        rest += [parameter for parameter in self.backbone.parameters() if parameter.requires_grad]
        return {"encoder": list(encoder_groups["encoder"]), "rest": rest}


def normal_init_(model: Recommender, std: float = 0.02) -> None:
    """N(0, std) weights and zero biases for every Linear and Embedding trained from scratch,
    as RecBole and BERT initialise (backbone.init=normal). A pretrained encoder's weights,
    trained or frozen, are left as loaded; embedding padding rows stay zero."""
    pretrained = {id(parameter) for parameter in model.parameter_groups()["encoder"]}
    for module in model.modules():
        if not isinstance(module, nn.Linear | nn.Embedding):
            continue
        if id(module.weight) in pretrained or not module.weight.requires_grad:
            continue
        nn.init.normal_(module.weight, std=std)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()


def _device_of(module: nn.Module) -> torch.device:
    first = next(itertools.chain(module.parameters(), module.buffers()), None)
    return torch.device("cpu") if first is None else first.device
