"""Full-ranking evaluation on the validation or test split (paper 3.4): every user's held-out
item is ranked against the whole catalogue, batched over users. Only ranks below k matter to
HR@k and NDCG@k, so they are read off each user's top k + 1 scores (issue 7). The per-user
standing of each target is kept (`UserResults`), for the run store and paired statistics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from morec_core.data.batches import eval_batches
from morec_core.data.dataset import PreparedDataset
from morec_core.run.model import Recommender
from morec_core.run.user_results import UserResults


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
             ties: str = "expected", item_table: torch.Tensor | None = None) -> dict[str, float]:
    """-> {"hr@k": mean HR, "ndcg@k": mean NDCG, "ties@k": share of users whose target tied,
    "users": number of users evaluated}, under the tie rule (`user_results.TIE_RULES`)."""
    return evaluate_users(model, dataset, split, k=k, mask_history=mask_history,
                          batch_size=batch_size, device=device, user_subset=user_subset,
                          item_batch_size=item_batch_size, item_table=item_table).metrics(ties)


def evaluate_users(model: Recommender, dataset: PreparedDataset, split: str, *, k: int,
                   mask_history: bool, batch_size: int, device: torch.device | str,
                   user_subset: np.ndarray | None = None, item_batch_size: int = 256,
                   item_table: torch.Tensor | None = None) -> UserResults:
    """Where every user's target stands in the full ranking (UserResults: per user, the items
    scored above it, capped at k, and the items tied with it).

    model must already be on `device`. The item table is computed once (or passed in, from
    `compute_item_table` on the same weights); users are scored in batches of batch_size.
    user_subset: user indices (e.g. users whose target is a cold item).
    """
    parts: list[UserResults] = []
    with _evaluating(model):
        table = model.item_table(item_batch_size).float() if item_table is None else item_table
        for batch in eval_batches(dataset, split, batch_size=batch_size,
                                  user_subset=user_subset):
            users = batch.users.numpy()  # before the move: a CUDA tensor has no .numpy()
            batch = batch.to(device)
            scores = model.score_all(batch, table)  # (B, I + 1)
            if mask_history:
                # Seen items leave the ranking with a score of -inf: B x H writes instead of
                # a (B, I + 1) boolean mask and its four passes (half of evaluate's time on
                # microlens-50k). history is 0 where the target itself was seen, so the
                # target keeps its score; column 0 is -inf already.
                scores.scatter_(1, batch.history, float("-inf"))
            greater, equal = standing_within(scores, batch.targets, k)  # (B,), (B,)
            # Two (B,) copies per batch; standing_within waits for the device already (its
            # check for ties past the top k + 1).
            parts.append(UserResults(users=users, greater=greater.cpu().numpy(),
                                     equal=equal.cpu().numpy(), k=k))
    return UserResults.concatenate(parts, k)


def standing_within(scores: torch.Tensor, targets: torch.Tensor,
                    k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per user, the items scored above the target (capped at k) and the other items scored
    equal to it (exact where fewer than k are above; 0 elsewhere, where no tie rule can bring
    the target into the top k). All that HR@k and NDCG@k need under every tie rule.

    scores: (B, I), column 0 and any item out of the ranking at -inf (NaN scores are set to
    -inf in place); targets: (B,). Returns two (B,) int64 tensors. A target scored NaN or -inf
    is a miss (greater = k, equal = 0): it ranks below every real score.
    Reads the top k + 1 scores instead of comparing every score with the target's and counting:
    on microlens-50k that (B, I) count cost more than the score matrix product itself. Fewer
    than k items beat the target exactly when all of them are in the top k + 1. Equal scores are
    counted over the whole row only for the users whose tie runs past the top k + 1 (a collapsed
    model: every user).
    """
    inf = float("inf")
    torch.nan_to_num_(scores, nan=-inf, posinf=inf, neginf=-inf)  # NaN ranks below every score
    target = scores.gather(1, targets.long()[:, None])  # (B, 1)
    top = scores.topk(min(k + 1, scores.shape[1]), dim=1).values  # (B, k + 1), descending
    scored = target[:, 0] > -inf
    greater = (top > target).sum(1).clamp(max=k)
    reachable = scored & (greater < k)
    # The target is among the top k + 1 when fewer than k beat it; it counts itself once.
    equal = torch.where(reachable, (top == target).sum(1) - 1, 0)
    spills = reachable & (top[:, -1] == target[:, 0])  # the tie may go on past the top k + 1
    if bool(spills.any()):
        rows = spills.nonzero()[:, 0]
        equal[rows] = (scores[rows] == target[rows]).sum(1) - 1
    return torch.where(scored, greater, k), equal
