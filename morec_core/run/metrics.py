"""Full-ranking metrics (paper 3.4): the target is ranked against every item of the catalogue.

Pure tensor functions; column 0 of every score matrix is the padding item and is never ranked.

These are the reference definitions, comparing every score with the target's; evaluation reads
the same counts off each user's top scores (`evaluate.standing_within`) and applies the tie rule
in `user_results` (expected HR/NDCG under random tie-breaking by default).

Deterministic ranks: a target's rank counts the items with a strictly greater score
("optimistic"), as the paper's code does; "pessimistic" also counts the other items with an
equal score. Ties matter for collapsed models (all scores equal): optimistic puts every target
first, so a collapse would show up as a perfect score. A NaN target score ranks below every
finite score.
"""

from __future__ import annotations

import torch

RANK_RULES = ("optimistic", "pessimistic")


def history_mask(history: torch.Tensor, num_columns: int) -> torch.Tensor:
    """history: (B, H) item ids, 0-padded -> (B, num_columns) bool, True at each seen item."""
    mask = torch.zeros(history.shape[0], num_columns, dtype=torch.bool, device=history.device)
    mask.scatter_(1, history.long(), True)
    mask[:, 0] = False  # padding is not an item the user saw
    return mask


def rank_of_target(
    scores: torch.Tensor,
    targets: torch.Tensor,
    history_mask: torch.Tensor | None = None,
    ties: str = "optimistic",
) -> torch.Tensor:
    """0-based rank of each target among all items 1..I-1.

    scores: (B, I) float, column 0 the padding item (ignored whatever its score).
    targets: (B,) int in 1..I-1.
    history_mask: (B, I) bool, True at items the user saw before the target; they are taken out
        of the ranking (as if their score were -inf). The target itself is never taken out, even
        when the user saw it before (repeat consumption).
    ties: "optimistic" (count strictly greater scores) or "pessimistic" (also count equal ones).
    Returns (B,) int64 ranks; 0 means the target is the top item.
    """
    if ties not in RANK_RULES:
        raise ValueError(f"unknown rank rule {ties!r}; known: {', '.join(RANK_RULES)}")
    targets = targets.long()
    # A NaN target ranks below every real score (a diverged model must not score perfectly,
    # which it would since NaN > x is always False); NaN scores of other items never beat it.
    target_scores = scores.gather(1, targets[:, None]).nan_to_num(nan=float("-inf"))  # (B, 1)
    # Boolean work only: at 1024 users x 100K items a float copy would be 400 MB.
    if ties == "optimistic":
        beats = scores > target_scores  # (B, I)
    else:
        beats = scores >= target_scores
        beats.scatter_(1, targets[:, None], False)  # the target does not beat itself
    beats[:, 0] = False
    if history_mask is not None:
        keep = ~history_mask
        keep.scatter_(1, targets[:, None], True)
        beats &= keep
    return beats.sum(dim=1)


def hr_at_k(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """ranks: (B,) 0-based -> (B,) float, 1 where the target is in the top k."""
    return (ranks < k).float()


def ndcg_at_k(ranks: torch.Tensor, k: int) -> torch.Tensor:
    """ranks: (B,) 0-based -> (B,) float, 1 / log2(rank + 2) where rank < k, else 0.

    With a single relevant item the ideal DCG is 1, so this is NDCG.
    """
    gains = 1.0 / torch.log2(ranks.double() + 2.0)
    return torch.where(ranks < k, gains, torch.zeros_like(gains)).float()
