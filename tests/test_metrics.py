"""Golden tests: every expected value below was worked out by hand."""

import math

import pytest
import torch

from morec_core.run.metrics import history_mask, hr_at_k, ndcg_at_k, rank_of_target

NEG = float("-inf")


def test_rank_counts_strictly_greater_scores_by_default():
    #                        pad   1    2    3    4
    scores = torch.tensor([[0.0, 0.5, 0.9, 0.1, 0.9],
                           [0.0, 0.5, 0.9, 0.1, 0.9]])
    targets = torch.tensor([2, 3])
    # Target 2 ties with item 4: optimistic rank 0. Target 3 is beaten by 1, 2 and 4.
    assert rank_of_target(scores, targets).tolist() == [0, 3]
    assert rank_of_target(scores, targets, ties="pessimistic").tolist() == [1, 3]


def test_collapsed_scores_rank_first_optimistically_and_last_pessimistically():
    scores = torch.zeros(1, 6)  # padding + 5 items, all equal
    target = torch.tensor([3])
    assert rank_of_target(scores, target).tolist() == [0]
    assert rank_of_target(scores, target, ties="pessimistic").tolist() == [4]


def test_a_nan_target_ranks_last_not_first():
    nan = float("nan")
    scores = torch.tensor([[0.0, 0.5, nan, 0.1, nan]])
    # Items 1 and 3 have real scores and beat the NaN target 2; the NaN item 4 does not.
    assert rank_of_target(scores, torch.tensor([2])).tolist() == [2]
    assert rank_of_target(scores, torch.tensor([1])).tolist() == [0]


def test_padding_item_is_never_ranked_even_with_the_highest_score():
    scores = torch.tensor([[100.0, 0.9, 0.8, 0.7, 0.6]])
    assert rank_of_target(scores, torch.tensor([1])).tolist() == [0]
    assert rank_of_target(scores, torch.tensor([4])).tolist() == [3]


def test_history_masking_takes_seen_items_out_of_the_ranking():
    scores = torch.tensor([[0.0, 0.9, 0.8, 0.7, 0.6]])
    target = torch.tensor([4])
    mask = history_mask(torch.tensor([[0, 1, 2]]), num_columns=5)
    assert mask.tolist() == [[False, True, True, False, False]]
    # Unmasked, items 1, 2, 3 beat the target; with 1 and 2 seen, only item 3 does.
    assert rank_of_target(scores, target).tolist() == [3]
    assert rank_of_target(scores, target, mask).tolist() == [1]


def test_a_target_seen_before_is_not_masked():
    scores = torch.tensor([[0.0, 0.9, 0.8, 0.7, 0.6]])
    target = torch.tensor([3])
    mask = history_mask(torch.tensor([[3, 1]]), num_columns=5)  # repeat consumption of item 3
    assert rank_of_target(scores, target, mask).tolist() == [1]  # only item 2 beats it


def test_rank_does_not_modify_its_inputs():
    scores = torch.tensor([[5.0, 0.9, 0.8, 0.7]])
    mask = torch.tensor([[False, True, False, True]])
    scores_before, mask_before = scores.clone(), mask.clone()
    rank_of_target(scores, torch.tensor([3]), mask, ties="pessimistic")
    assert torch.equal(scores, scores_before)
    assert torch.equal(mask, mask_before)


def test_hr_and_ndcg_by_hand():
    ranks = torch.tensor([0, 1, 9, 10])
    assert hr_at_k(ranks, 10).tolist() == [1.0, 1.0, 1.0, 0.0]
    expected = [1.0, 1 / math.log2(3), 1 / math.log2(11), 0.0]
    assert ndcg_at_k(ranks, 10).tolist() == pytest.approx(expected)
    assert hr_at_k(ranks, 1).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_k_larger_than_the_catalogue():
    scores = torch.tensor([[NEG, 0.1, 0.4, 0.3]])  # 3 items
    ranks = rank_of_target(scores, torch.tensor([1]))
    assert ranks.tolist() == [2]
    assert hr_at_k(ranks, 100).tolist() == [1.0]
    assert ndcg_at_k(ranks, 100).tolist() == pytest.approx([0.5])  # 1 / log2(4)


def test_unknown_tie_rule_is_refused():
    with pytest.raises(ValueError, match="optimistic"):
        rank_of_target(torch.zeros(1, 3), torch.tensor([1]), ties="random")
