"""Full-ranking evaluation on the validation or test split (paper 3.4): every user's held-out
item is ranked against the whole catalogue, batched over users."""

from __future__ import annotations

import numpy as np
import torch

from morec_core.batches import eval_batches
from morec_core.data.dataset import PreparedDataset
from morec_core.metrics import history_mask as make_history_mask
from morec_core.metrics import hr_at_k, ndcg_at_k, rank_of_target
from morec_core.model import Recommender


def evaluate(model: Recommender, dataset: PreparedDataset, split: str, *, k: int,
             mask_history: bool, batch_size: int, device: torch.device | str,
             user_subset: np.ndarray | None = None, item_batch_size: int = 256,
             ties: str = "optimistic") -> dict[str, float]:
    """-> {"hr@k": mean HR, "ndcg@k": mean NDCG, "users": number of users evaluated}.

    model must already be on `device`. The item table is computed once; users are scored in
    batches of batch_size. user_subset: user indices (e.g. users whose target is a cold item).
    """
    was_training = model.training
    model.eval()
    hits = torch.zeros((), dtype=torch.float64, device=device)
    gains = torch.zeros((), dtype=torch.float64, device=device)
    users = 0
    try:
        with torch.inference_mode():
            item_table = model.item_table(item_batch_size).float()  # (I + 1, d), once
            for batch in eval_batches(dataset, split, batch_size=batch_size,
                                      user_subset=user_subset):
                batch = batch.to(device)
                scores = model.score_all(batch, item_table)  # (B, I + 1)
                mask = (make_history_mask(batch.history, scores.shape[1]) if mask_history
                        else None)
                ranks = rank_of_target(scores, batch.targets, mask, ties=ties)  # (B,)
                hits += hr_at_k(ranks, k).double().sum()
                gains += ndcg_at_k(ranks, k).double().sum()
                users += len(ranks)
    finally:
        model.train(was_training)
    denominator = max(users, 1)
    return {f"hr@{k}": hits.item() / denominator, f"ndcg@{k}": gains.item() / denominator,
            "users": users}
