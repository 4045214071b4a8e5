import numpy as np
import pytest
import torch

from morec_core.data.batches import (
    eval_batches,
    input_length,
    sample_negatives,
    train_batches,
    training_data,
)
from morec_core.data.dataset import ItemContent, PreparedDataset


def make_dataset(sequences: list[list[int]], num_items: int) -> PreparedDataset:
    offsets = np.concatenate([[0], np.cumsum([len(sequence) for sequence in sequences])])
    return PreparedDataset(
        name="handmade", offsets=offsets.astype(np.int64),
        items=np.concatenate(sequences).astype(np.int64), num_items=num_items,
        content=ItemContent(raw_ids=[""] * (num_items + 1), titles=[""] * (num_items + 1),
                            image_paths=[""] * (num_items + 1)))


HANDMADE = [[1, 2, 3, 4, 5], [6, 7, 8], [2, 4, 6, 8, 10, 12]]


def random_dataset(seed: int = 0, num_users: int = 200, num_items: int = 40) -> PreparedDataset:
    rng = np.random.default_rng(seed)
    sequences = [list(rng.integers(1, num_items + 1, size=rng.integers(3, 12)))
                 for _ in range(num_users)]
    return make_dataset(sequences, num_items)


def test_training_sequences_are_left_padded_and_aligned():
    dataset = make_dataset(HANDMADE, num_items=12)
    assert input_length(dataset) == 3  # longest training part (4 items) minus one
    data = training_data(dataset, max_length=3)
    # User 1's training part is one item: no (input, target) pair, no sequence row.
    assert data.sequence_users.tolist() == [0, 2]
    assert data.sequence_inputs.tolist() == [[0, 1, 2], [2, 4, 6]]
    assert data.sequence_targets.tolist() == [[0, 2, 3], [4, 6, 8]]
    # DSSM pairs: every training interaction, the valid and test items excluded.
    pairs = sorted(zip(data.pair_users.tolist(), data.pair_items.tolist(), strict=True))
    assert pairs == [(0, 1), (0, 2), (0, 3), (1, 6), (2, 2), (2, 4), (2, 6), (2, 8)]


def test_a_cap_truncates_to_the_newest_items():
    data = training_data(make_dataset(HANDMADE, num_items=12), max_length=2)
    assert data.sequence_inputs.tolist() == [[1, 2], [4, 6]]
    assert data.sequence_targets.tolist() == [[2, 3], [6, 8]]


def test_sequence_batches_pad_negatives_with_targets_and_avoid_training_items():
    dataset = random_dataset()
    data = training_data(dataset, max_length=input_length(dataset))
    seen = 0
    for batch in train_batches(data, "sequence", batch_size=32, rng=np.random.default_rng(1)):
        assert batch.inputs.shape == batch.targets.shape == batch.negatives.shape
        assert torch.equal(batch.targets == 0, batch.inputs == 0)
        assert torch.equal(batch.negatives == 0, batch.targets == 0)
        for row, user in enumerate(batch.users.tolist()):
            training_items = set(dataset.sequence(user)[:-2].tolist())
            negatives = batch.negatives[row][batch.negatives[row] > 0].tolist()
            assert not training_items & set(negatives)
            assert all(1 <= item <= dataset.num_items for item in negatives)
        seen += len(batch.users)
    assert seen == len(data.sequence_users)


def test_sequence_batches_are_cut_to_their_longest_sequence_and_lose_no_pair():
    dataset = make_dataset([[1, 2, 3, 4], [5, 6, 7, 8, 9, 10, 11, 12], [2, 4, 6, 8]],
                           num_items=12)
    data = training_data(dataset, max_length=input_length(dataset))  # W = 5
    widths, pairs = [], set()
    for batch in train_batches(data, "sequence", batch_size=1, rng=np.random.default_rng(0)):
        widths.append(batch.inputs.shape[1])
        assert (batch.inputs[:, 0] > 0).any(), "the first column is padding in every row"
        user = int(batch.users[0])
        pairs |= {(user, int(i), int(t)) for i, t in zip(batch.inputs[0], batch.targets[0],
                                                           strict=True) if t > 0}
    assert sorted(widths) == [1, 1, 5]
    assert pairs == {(0, 1, 2), (1, 5, 6), (1, 6, 7), (1, 7, 8), (1, 8, 9), (1, 9, 10), (2, 2, 4)}
    together = next(train_batches(data, "sequence", batch_size=3, rng=np.random.default_rng(0)))
    assert together.inputs.shape == (3, 5)


def test_pair_batches_cover_every_training_interaction_once():
    dataset = random_dataset()
    data = training_data(dataset, max_length=input_length(dataset))
    batches = list(train_batches(data, "user", batch_size=50, rng=np.random.default_rng(2)))
    users = torch.cat([batch.users for batch in batches])
    positives = torch.cat([batch.targets for batch in batches])
    negatives = torch.cat([batch.negatives for batch in batches])
    assert len(users) == int((dataset.lengths - 2).sum())
    assert sorted(zip(users.tolist(), positives.tolist(), strict=True)) == sorted(
        zip(data.pair_users.tolist(), data.pair_items.tolist(), strict=True))
    for user, negative in zip(users.tolist(), negatives.tolist(), strict=True):
        assert negative not in set(dataset.sequence(user)[:-2].tolist())


@pytest.mark.parametrize("kind", ["sequence", "user"])
def test_batches_are_determined_by_the_seed(kind):
    dataset = random_dataset()
    data = training_data(dataset, max_length=input_length(dataset))

    def epoch(seed):
        return [batch.negatives for batch in
                train_batches(data, kind, batch_size=16, rng=np.random.default_rng(seed))]

    first, again, other = epoch(7), epoch(7), epoch(8)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_rejection_sampling_finds_the_only_unseen_item():
    dataset = make_dataset([[1, 2, 3, 4, 5, 1]], num_items=5)  # trained on 1..4
    data = training_data(dataset, max_length=3)
    negatives = sample_negatives(data, np.zeros(500, dtype=np.int64), np.random.default_rng(0))
    assert set(negatives.tolist()) == {5}


def test_unknown_kind_is_refused():
    data = training_data(make_dataset(HANDMADE, num_items=12), max_length=3)
    with pytest.raises(ValueError, match="sequence"):
        train_batches(data, "graph", batch_size=2, rng=np.random.default_rng(0))


def test_eval_batches_hold_out_the_right_items():
    dataset = make_dataset(HANDMADE, num_items=12)
    (valid,) = eval_batches(dataset, "valid", batch_size=10)
    assert valid.targets.tolist() == [4, 7, 10]
    assert valid.inputs.tolist() == [[0, 1, 2, 3], [0, 0, 0, 6], [2, 4, 6, 8]]
    (test,) = eval_batches(dataset, "test", batch_size=10)
    assert test.targets.tolist() == [5, 8, 12]
    assert test.inputs.tolist() == [[0, 1, 2, 3, 4], [0, 0, 0, 6, 7], [2, 4, 6, 8, 10]]
    assert torch.equal(test.history, test.inputs)  # no repeats here


def test_history_excludes_the_target_itself():
    dataset = make_dataset([[3, 5, 3, 7, 3]], num_items=8)
    (test,) = eval_batches(dataset, "test", batch_size=4)
    assert test.targets.tolist() == [3]
    assert test.inputs.tolist() == [[3, 5, 3, 7]]
    assert test.history.tolist() == [[0, 5, 0, 7]]


def test_user_subset_and_batching():
    dataset = make_dataset(HANDMADE, num_items=12)
    batches = list(eval_batches(dataset, "test", batch_size=1, user_subset=np.array([2, 0])))
    assert [batch.users.tolist() for batch in batches] == [[2], [0]]
    assert batches[1].inputs.tolist() == [[1, 2, 3, 4]]  # width follows its own batch
    with pytest.raises(ValueError, match="valid"):
        next(eval_batches(dataset, "train", batch_size=1))


def test_batches_move_to_a_device_whole():
    dataset = make_dataset(HANDMADE, num_items=12)
    (batch,) = eval_batches(dataset, "valid", batch_size=10)
    moved = batch.to("cpu")
    assert type(moved) is type(batch)
    assert torch.equal(moved.targets, batch.targets)
