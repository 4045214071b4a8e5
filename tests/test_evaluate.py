import math

import numpy as np
import pytest
import torch

from morec_core.backbones import build_backbone
from morec_core.backbones.dssm import DSSM
from morec_core.config import BackboneConfig
from morec_core.data.batches import input_length
from morec_core.data.dataset import ItemContent, PreparedDataset
from morec_core.encoders.id import IdEncoder
from morec_core.run import events as ev
from morec_core.run.collapse import CollapseDetector
from morec_core.run.evaluate import evaluate, evaluate_users, standing_within
from morec_core.run.metrics import rank_of_target
from morec_core.run.model import Recommender

SEQUENCES = [[1, 2, 3, 4, 5], [6, 5, 6, 2], [3, 1, 2]]
# Score of items 1..6 for each user (column 0, padding, is added below).
SCORES = [[0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
          [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
          [0.1, 0.6, 0.5, 0.4, 0.3, 0.2]]


def make_dataset(sequences, num_items) -> PreparedDataset:
    offsets = np.concatenate([[0], np.cumsum([len(sequence) for sequence in sequences])])
    return PreparedDataset(name="handmade", offsets=offsets,
                           items=np.concatenate(sequences).astype(np.int64), num_items=num_items,
                           content=ItemContent(raw_ids=[], titles=[], image_paths=[]))


def fixed_score_model() -> Recommender:
    """One-hot item vectors and user vectors equal to SCORES, so that scores == SCORES."""
    num_items = 6
    items = IdEncoder(num_items, dim=num_items + 1)
    users = DSSM(num_users=3, dim=num_items + 1, mlp_layers=0, dropout=0.0)
    with torch.no_grad():
        items.embedding.weight.copy_(torch.eye(num_items + 1))
        items.embedding.weight[0].zero_()
        users.users.weight.copy_(torch.tensor([[0.0, *row] for row in SCORES]))
    return Recommender(items, users, "bce", num_items=num_items)


# Ranks worked out by hand from SCORES:
#   valid: targets 4, 6, 1; seen before 1 2 3 | 6 5 (6 is the target) | 3
#          unmasked ranks 3, 0, 5; masked 0, 0, 4
#   test:  targets 5, 2, 2; seen before 1 2 3 4 | 6 5 6 | 3 1
#          unmasked ranks 4, 4, 0; masked 0, 2, 0
@pytest.mark.parametrize(("split", "mask_history", "hr", "ndcg"), [
    ("valid", True, 2 / 3, 2 / 3),
    ("valid", False, 1 / 3, 1 / 3),
    ("test", True, 1.0, (1 + 0.5 + 1) / 3),
    ("test", False, 1 / 3, 1 / 3),
])
def test_metrics_by_hand(split, mask_history, hr, ndcg):
    result = evaluate(fixed_score_model(), make_dataset(SEQUENCES, 6), split, k=3,
                      mask_history=mask_history, batch_size=2, device="cpu")
    assert result == {"hr@3": pytest.approx(hr), "ndcg@3": pytest.approx(ndcg), "ties@3": 0.0,
                      "users": 3}


def test_k_beyond_the_catalogue_and_a_user_subset():
    model, dataset = fixed_score_model(), make_dataset(SEQUENCES, 6)
    result = evaluate(model, dataset, "test", k=10, mask_history=False, batch_size=8,
                      device="cpu")
    assert result["hr@10"] == 1.0
    assert result["ndcg@10"] == pytest.approx((2 / math.log2(6) + 1) / 3)
    subset = evaluate(model, dataset, "test", k=3, mask_history=True, batch_size=8,
                      device="cpu", user_subset=np.array([1, 2]))
    assert subset == {"hr@3": 1.0, "ndcg@3": pytest.approx(0.75), "ties@3": 0.0, "users": 2}


def test_item_table_is_computed_once_and_training_mode_restored():
    model, dataset = fixed_score_model(), make_dataset(SEQUENCES, 6)
    calls: list[int] = []
    model.item_encoder.register_forward_hook(lambda module, args, output: calls.append(1))
    model.train()
    evaluate(model, dataset, "valid", k=3, mask_history=True, batch_size=1, device="cpu")
    assert len(calls) == 1  # three batches of one user, one item table
    assert model.training


def test_results_do_not_depend_on_the_batching():
    # SASRec over left-padded inputs whose width changes with the batch's longest user.
    rng = np.random.default_rng(0)
    dataset = make_dataset([list(rng.integers(1, 31, size=rng.integers(4, 12)))
                            for _ in range(40)], num_items=30)
    torch.manual_seed(0)
    backbone = build_backbone(BackboneConfig(name="sasrec", embed_dim=16),
                              num_users=dataset.num_users, max_length=input_length(dataset))
    model = Recommender(IdEncoder(30, 16), backbone, "bce", num_items=30)
    one = evaluate(model, dataset, "test", k=10, mask_history=True, batch_size=1, device="cpu",
                   item_batch_size=7)
    many = evaluate(model, dataset, "test", k=10, mask_history=True, batch_size=64,
                    device="cpu")
    assert one == pytest.approx(many)


def test_standing_within_k_agrees_with_full_ranks():
    # Scores on a coarse grid tie often; some are NaN, some -inf (items out of the ranking).
    generator = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 8, (64, 40), generator=generator).float()
    scores[torch.rand(64, 40, generator=generator) < 0.05] = float("nan")
    scores[torch.rand(64, 40, generator=generator) < 0.1] = float("-inf")
    scores[:, 0] = float("-inf")
    targets = torch.randint(1, 40, (64,), generator=generator)
    scored = scores.gather(1, targets[:, None])[:, 0] > float("-inf")  # neither NaN nor -inf
    assert 0 < int(scored.sum()) < 64
    optimistic = rank_of_target(scores.clone(), targets, ties="optimistic")
    pessimistic = rank_of_target(scores.clone(), targets, ties="pessimistic")
    for k in (1, 3, 10, 40, 50):
        greater, equal = standing_within(scores.clone(), targets, k)
        assert torch.equal(greater[scored], optimistic[scored].clamp(max=k)), k
        reach = scored & (optimistic < k)
        # Ties are counted exactly wherever the target can still reach the top k.
        assert torch.equal(equal[reach], (pessimistic - optimistic)[reach]), k
        assert (greater[~scored] == k).all()  # a target without a real score is a miss
        assert (equal[~reach] == 0).all()


def test_a_tie_running_past_the_top_k_is_counted_whole():
    scores = torch.zeros(2, 30)
    scores[:, 0] = float("-inf")
    scores[1, 5] = 1.0  # user 1: one item above, 27 tied with the target
    greater, equal = standing_within(scores, torch.tensor([3, 3]), k=4)
    assert greater.tolist() == [0, 1]
    assert equal.tolist() == [28, 27]


def test_a_constant_score_model_scores_at_random_level_and_is_all_ties():
    num_items, users = 50, 200
    rng = np.random.default_rng(0)
    dataset = make_dataset([list(rng.integers(1, num_items + 1, size=6)) for _ in range(users)],
                           num_items=num_items)
    model = Recommender(IdEncoder(num_items, 8), DSSM(num_users=users, dim=8, mlp_layers=0,
                                                       dropout=0.0), "bce", num_items=num_items)
    with torch.no_grad():
        model.item_encoder.embedding.weight.fill_(0.5)  # every item the same vector
    results = evaluate_users(model, dataset, "test", k=10, mask_history=True, batch_size=64,
                             device="cpu")
    metrics = results.metrics("expected")
    # Each user's target is one of (num_items - items seen before it) equally scored items.
    candidates = np.array([num_items - len(set(sequence[:-1]) - {sequence[-1]})
                           for sequence in (dataset.items[dataset.offsets[u]:dataset.offsets[u + 1]]
                                            for u in range(users))])
    assert metrics["hr@10"] == pytest.approx(float(np.mean(10 / candidates)))
    assert metrics["hr@10"] == pytest.approx(10 / num_items, rel=0.15)  # random level
    assert metrics["ties@10"] == 1.0
    assert results.metrics("optimistic")["hr@10"] == 1.0  # what the paper's rule would print
    assert results.metrics("pessimistic")["hr@10"] == 0.0
    # The collapse detector flags it at its first validation.
    detector = CollapseDetector()
    detector(ev.RunStarted(run_id="r", spec={}, spec_key="k", selection_metric="ndcg@10",
                           host="h", pid=1, device="cpu", num_items=num_items))
    with pytest.raises(ev.StopRun, match="constant scores: 100% of the validation targets"):
        detector(ev.Evaluated(run_id="r", epoch=0, split="valid", metrics=metrics))
    healthy = evaluate(fixed_score_model(), make_dataset(SEQUENCES, 6), "valid", k=3,
                       mask_history=True, batch_size=8, device="cpu")
    CollapseDetector()(ev.Evaluated(run_id="r", epoch=0, split="valid",
                                    metrics={"ndcg@10": 0.5, **healthy}))
