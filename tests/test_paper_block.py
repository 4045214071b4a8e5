"""backbone.block=paper: the paper code's SASRec user encoder, counted and recomputed by hand."""

import math

import pytest
import torch

from morec_core.backbones.paper_block import PaperSelfAttentionBlock
from morec_core.backbones.sasrec import SASRec, build_sasrec
from morec_core.config import BackboneConfig, ConfigError, RunSpec


def test_the_paper_block_has_the_paper_codes_parameter_count():
    """The paper code's User_Encoder at d 64, 2 blocks, 2 heads, a window of 20: 100,864."""
    config = BackboneConfig(embed_dim=64, num_blocks=2, num_heads=2, block="paper")
    model = build_sasrec(config, num_users=10, max_length=20)
    assert sum(p.numel() for p in model.parameters()) == 100_864
    # morec's standard block is another function: biased fused Q/K/V and a GELU feed-forward.
    standard = build_sasrec(BackboneConfig(embed_dim=64), num_users=10, max_length=20)
    assert sum(p.numel() for p in standard.parameters()) == 100_864 + 2 * (3 * 64 + 64)


def reference_block(block: PaperSelfAttentionBlock, hidden: torch.Tensor,
                    allowed: torch.Tensor) -> torch.Tensor:
    """The paper code's block written out: additive -1e9 mask, softmax(QK^T / sqrt(d_k)) V,
    LN(x + W_o att), then LN(x + W_2 relu(W_1 x + b_1) + b_2); no dropout (eval)."""
    batch, length, dim = hidden.shape
    heads, width = block.num_heads, dim // block.num_heads

    def split(weight: torch.Tensor) -> torch.Tensor:
        return (hidden @ weight.T).view(batch, length, heads, width).transpose(1, 2)

    query, key, value = (split(layer.weight) for layer in (block.query, block.key, block.value))
    scores = query @ key.transpose(-1, -2) / math.sqrt(width)
    scores = scores + torch.where(allowed, 0.0, -1e9)
    attended = (scores.softmax(-1) @ value).transpose(1, 2).reshape(batch, length, dim)

    def layer_norm(x: torch.Tensor, norm: torch.nn.LayerNorm) -> torch.Tensor:
        mean, variance = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
        return (x - mean) / torch.sqrt(variance + 1e-6) * norm.weight + norm.bias

    hidden = layer_norm(hidden + attended @ block.projection.weight.T, block.attention_norm)
    first, second = block.feed_forward[0], block.feed_forward[3]
    inner = torch.relu(hidden @ first.weight.T + first.bias)
    return layer_norm(hidden + inner @ second.weight.T + second.bias, block.feed_forward_norm)


def test_one_forward_equals_a_hand_written_reference():
    torch.manual_seed(0)
    model = SASRec(dim=16, max_length=5, num_blocks=2, num_heads=2, dropout=0.1,
                   norm_first=False, block="paper").eval()
    vectors = torch.randn(3, 5, 16)
    valid = torch.tensor([[True] * 5, [False, False, True, True, True], [False] * 4 + [True]])
    expected = vectors + model.positions.weight
    mean, variance = expected.mean(-1, keepdim=True), expected.var(-1, unbiased=False,
                                                                    keepdim=True)
    norm = model.input_norm
    assert isinstance(norm, torch.nn.LayerNorm) and norm.eps == 1e-6
    expected = (expected - mean) / torch.sqrt(variance + 1e-6) * norm.weight + norm.bias
    allowed = torch.ones(5, 5, dtype=torch.bool).tril() & valid[:, None, None, :]
    for block in model.blocks:
        assert isinstance(block, PaperSelfAttentionBlock)
        expected = reference_block(block, expected, allowed)
    actual = model.encode(vectors, valid)
    # Padded queries differ by design (morec lets them see themselves; the paper's code
    # spreads them over every key); no target is ever read there.
    torch.testing.assert_close(actual[valid], expected[valid], atol=1e-5, rtol=1e-5)


def test_dense_weights_are_xavier_normal_and_biases_zero():
    torch.manual_seed(0)
    block = PaperSelfAttentionBlock(256, 2, 0.1)
    first = block.feed_forward[0]
    assert torch.count_nonzero(first.bias) == 0
    # xavier-normal: std sqrt(2 / (fan_in + fan_out)); torch's default (kaiming-uniform with
    # a = sqrt(5)) has std 1 / sqrt(3 fan_in), about 0.036 here against 0.040.
    assert block.query.weight.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.05)
    assert first.weight.std().item() == pytest.approx(math.sqrt(2 / (256 + 1024)), rel=0.05)
    assert block.query.bias is None and block.projection.bias is None


def test_post_ln_is_the_default_and_the_paper_block_refuses_pre_ln():
    assert RunSpec().backbone.layer_norm == "post"
    with pytest.raises(ConfigError, match="backbone.layer_norm"):
        RunSpec().with_overrides(["backbone.block=paper", "backbone.layer_norm=pre"])
    with pytest.raises(ConfigError, match="backbone.block"):
        RunSpec().with_overrides(["backbone.block=paperish"])


def test_the_block_setting_leaves_earlier_keys_alone_at_its_default():
    default = RunSpec()
    assert RunSpec.from_json(default.to_json()).spec_key == default.spec_key
    assert default.with_overrides(["backbone.block=paper"]).spec_key != default.spec_key
