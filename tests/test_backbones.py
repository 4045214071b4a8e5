import numpy as np
import pytest
import torch

from morec_core.backbones import BACKBONE_KINDS, BACKBONES, build_backbone
from morec_core.backbones.sasrec import SASRec
from morec_core.config import BackboneConfig, EncoderConfig
from morec_core.data.batches import EvalBatch, input_length, train_batches, training_data
from morec_core.data.dataset import ItemContent, PreparedDataset
from morec_core.encoders import build_item_encoder
from morec_core.encoders.base import EncoderInputs
from morec_core.run.evaluate import evaluate
from morec_core.run.model import Recommender


def identity_lookup(dim: int):
    """Item i -> a fixed random vector, so that states can be compared across calls."""
    table = torch.randn(100, dim, generator=torch.Generator().manual_seed(0))
    return lambda item_ids: table[item_ids]


def eval_batch(inputs: list[list[int]]) -> EvalBatch:
    tensor = torch.tensor(inputs)
    return EvalBatch(users=torch.arange(len(inputs)), inputs=tensor,
                     targets=torch.ones(len(inputs), dtype=torch.long), history=tensor)


def tiny_sasrec(max_length: int = 6, norm_first: bool | str = True) -> SASRec:
    """norm_first: True (pre-LN), False (post-LN) or "paper" (the paper code's block)."""
    torch.manual_seed(0)
    block = "paper" if norm_first == "paper" else "standard"
    return SASRec(dim=8, max_length=max_length, num_blocks=2, num_heads=2, dropout=0.1,
                  norm_first=norm_first is True, block=block).eval()


NORMS = pytest.mark.parametrize("norm_first", [True, False, "paper"],
                                ids=["pre_ln", "post_ln", "paper"])


@NORMS
def test_sasrec_is_causal(norm_first):
    model, embed = tiny_sasrec(norm_first=norm_first), identity_lookup(8)
    inputs = torch.tensor([[0, 3, 4, 5, 6, 7]])
    changed = inputs.clone()
    changed[0, -1] = 9
    before = model.encode(embed(inputs), inputs > 0)
    after = model.encode(embed(changed), changed > 0)
    torch.testing.assert_close(before[:, :-1], after[:, :-1])
    assert not torch.allclose(before[:, -1], after[:, -1])


@NORMS
def test_sasrec_ignores_padding_and_its_width(norm_first):
    model, embed = tiny_sasrec(norm_first=norm_first), identity_lookup(8)
    narrow = model.user_state(eval_batch([[3, 4, 5]]), embed)
    wide = model.user_state(eval_batch([[0, 0, 3, 4, 5]]), embed)
    longer = model.user_state(eval_batch([[9, 9, 9, 9, 9, 3, 4, 5]]), embed)  # beyond the window
    truncated = model.user_state(eval_batch([[9, 9, 9, 3, 4, 5]]), embed)
    torch.testing.assert_close(narrow, wide)
    torch.testing.assert_close(longer, truncated)
    assert not torch.allclose(narrow, truncated)


@NORMS
def test_sasrec_has_no_nan_on_padded_queries(norm_first):
    model, embed = tiny_sasrec(norm_first=norm_first), identity_lookup(8)
    inputs = torch.tensor([[0, 0, 0, 0, 0, 4], [0, 0, 0, 0, 0, 0]])
    assert torch.isfinite(model.encode(embed(inputs), inputs > 0)).all()


@NORMS
def test_sasrec_blocks_normalise_where_their_kind_says(norm_first):
    """Pre-LN: x + f(LN(x)), then a final LayerNorm; post-LN (RecBole's): LayerNorm on the input
    sum, LN(x + f(x)) in each block, nothing after. One block, recomputed by hand."""
    torch.manual_seed(0)
    model = SASRec(dim=8, max_length=4, num_blocks=1, num_heads=2, dropout=0.0,
                   norm_first=norm_first).eval()
    block, embed = model.blocks[0], identity_lookup(8)
    inputs = torch.tensor([[0, 3, 4, 5]])
    valid = inputs > 0
    allowed = torch.ones(4, 4, dtype=torch.bool).tril() & valid[:, None, None, :]
    allowed = allowed | torch.eye(4, dtype=torch.bool)
    hidden = embed(inputs) + model.positions.weight  # the window is full: positions 0..3

    if norm_first:
        hidden = hidden + block._attend(block.attention_norm(hidden), allowed)
        hidden = hidden + block.feed_forward(block.feed_forward_norm(hidden))
        expected = model.final_norm(hidden)
    else:
        hidden = model.input_norm(hidden)
        hidden = block.attention_norm(hidden + block._attend(hidden, allowed))
        expected = block.feed_forward_norm(hidden + block.feed_forward(hidden))
        # Each position ends on a LayerNorm: mean 0 and unit variance before its affine (1, 0).
        torch.testing.assert_close(expected.mean(-1), torch.zeros(1, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(model.encode(embed(inputs), valid), expected)


def test_dssm_states_depend_on_the_user_only():
    backbone = build_backbone(BackboneConfig(name="dssm", embed_dim=8, mlp_layers=2),
                              num_users=5, max_length=3).eval()
    first = backbone.user_state(eval_batch([[1, 2], [3, 4]]), identity_lookup(8))
    second = backbone.user_state(eval_batch([[5, 6], [7, 8]]), identity_lookup(8))
    torch.testing.assert_close(first, second)
    assert not torch.allclose(first[0], first[1])


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_declares_a_known_kind(name):
    backbone = build_backbone(BackboneConfig(name=name, embed_dim=8), num_users=3, max_length=4)
    assert backbone.kind in BACKBONE_KINDS


def test_unknown_backbone_lists_the_known_ones():
    with pytest.raises(ValueError, match="sasrec"):
        build_backbone(BackboneConfig(name="gru4rec"), num_users=3, max_length=4)


def chain_dataset(seed: int = 0, num_users: int = 400, num_items: int = 100) -> PreparedDataset:
    """Users walk a fixed random successor chain over the items, with 10% random jumps."""
    rng = np.random.default_rng(seed)
    successor = rng.permutation(num_items) + 1  # successor[i - 1] follows item i
    sequences = []
    for _ in range(num_users):
        walk = [int(rng.integers(1, num_items + 1))]
        for _ in range(int(rng.integers(6, 12)) - 1):
            jump = rng.random() < 0.1
            following = successor[walk[-1] - 1]
            walk.append(int(rng.integers(1, num_items + 1)) if jump else int(following))
        sequences.append(walk)
    offsets = np.concatenate([[0], np.cumsum([len(walk) for walk in sequences])])
    return PreparedDataset(
        name="chains", offsets=offsets, items=np.concatenate(sequences).astype(np.int64),
        num_items=num_items, content=ItemContent(raw_ids=[], titles=[], image_paths=[]))


@pytest.mark.parametrize(("backbone_name", "loss"),
                         [("sasrec", "bce"), ("sasrec", "softmax"), ("sasrec", "full_softmax"),
                          ("sasrec", "sampled_softmax"),
                          ("dssm", "bce"), ("dssm", "full_softmax")])
def test_short_training_learns_the_chains(backbone_name, loss, layer_norm="pre"):
    dataset = chain_dataset()
    torch.manual_seed(0)
    window = input_length(dataset)
    data = training_data(dataset, window)
    backbone = build_backbone(BackboneConfig(name=backbone_name, embed_dim=32,
                                             layer_norm=layer_norm),
                              num_users=dataset.num_users, max_length=window)
    item_encoder = build_item_encoder(EncoderConfig(name="id"),
                                      EncoderInputs(num_items=dataset.num_items), 32)
    model = Recommender(item_encoder, backbone, loss, num_items=dataset.num_items)
    optimizer = torch.optim.AdamW(model.parameter_groups()["rest"], lr=1e-2)
    epoch_losses = []
    for epoch in range(12):
        losses = []
        for batch in train_batches(data, model.kind, batch_size=64,
                                   rng=np.random.default_rng([0, epoch])):
            loss_value = model.loss(batch)
            optimizer.zero_grad()
            loss_value.backward()
            optimizer.step()
            losses.append(loss_value.item())
        epoch_losses.append(np.mean(losses))
    result = evaluate(model, dataset, "valid", k=10, mask_history=True, batch_size=128,
                      device="cpu")
    assert epoch_losses[-1] < 0.6 * epoch_losses[0]
    random_hr = 10 / dataset.num_items
    assert result["hr@10"] > 4 * random_hr, result
    assert result["users"] == dataset.num_users


def test_post_ln_sasrec_learns_the_chains():
    test_short_training_learns_the_chains("sasrec", "full_softmax", layer_norm="post")


def test_the_flop_count_of_a_dssm_full_softmax_step_never_fails_the_run():
    """torch's flop counter asserted on DSSM's item tower over the whole ID table (a full
    softmax) and ended the run `failed`; the cost column may be empty, the run goes on."""
    from morec_core.run.cost import flops_of

    dataset = chain_dataset()
    window = input_length(dataset)
    data = training_data(dataset, window)
    backbone = build_backbone(BackboneConfig(name="dssm", embed_dim=8),
                              num_users=dataset.num_users, max_length=window)
    item_encoder = build_item_encoder(EncoderConfig(name="id"),
                                      EncoderInputs(num_items=dataset.num_items), 8)
    model = Recommender(item_encoder, backbone, "full_softmax", num_items=dataset.num_items)
    batch = next(iter(train_batches(data, model.kind, batch_size=1,
                                    rng=np.random.default_rng(0))))
    flops = flops_of(lambda: model.loss(batch))
    assert flops is None or flops > 0
