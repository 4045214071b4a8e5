"""Full-ranking evaluation on the validation or test split (paper 3.4): every user's held-out
item is ranked against the whole catalogue, batched over users. Only ranks below k matter to
HR@k and NDCG@k, so they are read off each user's top k scores (issue 7)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from morec_core.batches import eval_batches
from morec_core.data.dataset import PreparedDataset
from morec_core.metrics import TIE_RULES, hr_at_k, ndcg_at_k
from morec_core.model import Recommender


@contextmanager
def _evaluating(model: Recommender) -> Iterator[None]:
    """Eval mode and inference mode inside the block; the model's own mode after it."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def compute_item_table(model: Recommender, item_batch_size: int = 256) -> torch.Tensor:
    """(I + 1, d) float32: every item through the model's item tower, in eval mode, no grad.
    With an end-to-end encoder this is most of an evaluation's cost: splits scored with the
    same weights (test and its cold/new subsets) share one table through evaluate's item_table."""
    with _evaluating(model):
        return model.item_table(item_batch_size).float()


def evaluate(model: Recommender, dataset: PreparedDataset, split: str, *, k: int,
             mask_history: bool, batch_size: int, device: torch.device | str,
             user_subset: np.ndarray | None = None, item_batch_size: int = 256,
             ties: str = "optimistic", item_table: torch.Tensor | None = None) -> dict[str, float]:
    """-> {"hr@k": mean HR, "ndcg@k": mean NDCG, "users": number of users evaluated}.

    model must already be on `device`. The item table is computed once (or passed in, from
    `compute_item_table` on the same weights); users are scored in batches of batch_size.
    user_subset: user indices (e.g. users whose target is a cold item).
    """
    hits = torch.zeros((), dtype=torch.float64, device=device)
    gains = torch.zeros((), dtype=torch.float64, device=device)
    users = 0
    with _evaluating(model):
        table = model.item_table(item_batch_size).float() if item_table is None else item_table
        for batch in eval_batches(dataset, split, batch_size=batch_size,
                                  user_subset=user_subset):
            batch = batch.to(device)
            scores = model.score_all(batch, table)  # (B, I + 1)
            if mask_history:
                # Seen items leave the ranking with a score of -inf: B x H writes instead of
                # a (B, I + 1) boolean mask and its four passes (half of evaluate's time on
                # microlens-50k). history is 0 where the target itself was seen, so the
                # target keeps its score; column 0 is -inf already.
                scores.scatter_(1, batch.history, float("-inf"))
            ranks = ranks_within(scores, batch.targets, k, ties=ties)  # (B,)
            hits += hr_at_k(ranks, k).double().sum()
            gains += ndcg_at_k(ranks, k).double().sum()
            users += len(ranks)
    denominator = max(users, 1)
    return {f"hr@{k}": hits.item() / denominator, f"ndcg@{k}": gains.item() / denominator,
            "users": users}


def ranks_within(scores: torch.Tensor, targets: torch.Tensor, k: int,
                 ties: str = "optimistic") -> torch.Tensor:
    """metrics.rank_of_target capped at k: exact below k, which is all HR@k and NDCG@k read.

    scores: (B, I), column 0 and any item out of the ranking at -inf (NaN scores are set to
    -inf in place); targets: (B,). Returns (B,) int64 in 0..k. A target scored NaN or -inf gets k,
    a miss (rank_of_target ranks it below every real score, so it misses unless k reaches past
    the items with one).
    Reads the top k (k + 1 for "pessimistic") scores instead of comparing every score with the
    target's and counting: on microlens-50k that (B, I) count cost more than the score matrix
    product itself. Fewer than k items beat the target exactly when all of them are in the top k.
    """
    if ties not in TIE_RULES:
        raise ValueError(f"unknown tie rule {ties!r}; known: {', '.join(TIE_RULES)}")
    inf = float("inf")
    torch.nan_to_num_(scores, nan=-inf, posinf=inf, neginf=-inf)  # NaN ranks below every score
    target = scores.gather(1, targets.long()[:, None])  # (B, 1)
    pessimistic = ties == "pessimistic"
    top = scores.topk(min(k + pessimistic, scores.shape[1]), dim=1).values  # (B, k [+ 1])
    # Pessimistic counts the items >= the target's score, the target among them.
    ranks = (top >= target).sum(1) - 1 if pessimistic else (top > target).sum(1)
    return torch.where(target[:, 0] > -inf, ranks.clamp(max=k), k)
