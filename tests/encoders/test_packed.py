"""encoder.packed: the batch's distinct titles as one token stream must compute what the padded
batch computes, in outputs and in gradients."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from morec_core.config import ConfigError, EncoderConfig
from morec_core.encoders.packed import encode_packed, pack
from morec_core.encoders.text import TextFeatures

transformers = pytest.importorskip("transformers")

ITEMS = torch.tensor([3, 1, 24, 7, 9, 2])


@pytest.fixture(autouse=True)
def quiet_nested_tensors():
    # PyTorch calls nested tensors a prototype and warns on each CPU call.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def tiny_model(kind: str):
    sizes = dict(vocab_size=60, max_position_embeddings=40, hidden_dropout_prob=0.0,
                 attention_probs_dropout_prob=0.0)
    configs = {
        "bert": transformers.BertConfig(hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, intermediate_size=64, **sizes),
        "roberta": transformers.RobertaConfig(hidden_size=32, num_hidden_layers=2,
                                              num_attention_heads=2, intermediate_size=64,
                                              pad_token_id=1, **sizes),
        "mpnet": transformers.MPNetConfig(hidden_size=32, num_hidden_layers=2,
                                          num_attention_heads=2, intermediate_size=64, **sizes),
        "distilbert": transformers.DistilBertConfig(
            dim=32, n_layers=2, n_heads=2, hidden_dim=64, vocab_size=60,
            max_position_embeddings=40, dropout=0.0, attention_dropout=0.0),
    }
    torch.manual_seed(0)
    return transformers.AutoModel.from_config(configs[kind])


def random_tokens(count: int = 25, width: int = 12):
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, width + 1, size=count).astype(np.int32)
    lengths[0] = 0  # the padding item
    ids = np.zeros((count, width), np.int32)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(5, 60, size=length)
    return ids, lengths


def step(features: TextFeatures, kernel: str | None = None):
    """Vectors of ITEMS and the gradients of a loss on them; kernel: packed, with this kernel."""
    features.zero_grad(set_to_none=True)
    if kernel is None:
        output = features(ITEMS)  # (N, H)
    else:
        titles = pack(features.token_ids, features.token_lengths, ITEMS)
        output = encode_packed(features.model, titles, pooling=features.pooling, kernel=kernel)
    (output * torch.linspace(-1, 1, output.shape[1])).square().sum().backward()
    return output.detach(), {name: p.grad for name, p in features.model.named_parameters()}


@pytest.mark.parametrize(("kind", "kernel"), [
    ("bert", "auto"), ("bert", "jagged"), ("bert", "repad"), ("bert", "block"),
    ("roberta", "auto"),  # RoBERTa numbers positions from padding_idx + 1
    ("distilbert", "jagged")])
@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_packed_titles_give_the_padded_vectors_and_gradients(kind, pooling, kernel):
    ids, lengths = random_tokens()
    padded = TextFeatures(tiny_model(kind), ids, lengths, pooling=pooling)
    packed = TextFeatures(tiny_model(kind), ids, lengths, pooling=pooling, packed=True)
    expected, expected_grads = step(padded)
    got, grads = step(packed, None if kernel == "auto" else kernel)
    assert got.shape == (len(ITEMS), 32)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    assert expected_grads.keys() == grads.keys()
    for name, gradient in expected_grads.items():
        assert gradient is not None, name
        torch.testing.assert_close(grads[name], gradient, atol=1e-5, rtol=1e-4, msg=name)


def test_the_stream_holds_each_title_once_without_padding():
    ids, lengths = random_tokens()
    features = TextFeatures(tiny_model("bert"), ids, lengths, packed=True)
    titles = pack(features.token_ids, features.token_lengths, ITEMS)
    real = int(lengths[ITEMS.numpy()].sum())
    assert titles.input_ids.shape == (1, real) < (1, len(ITEMS) * int(lengths[ITEMS].max()))
    second = slice(int(titles.offsets[1]), int(titles.offsets[2]))  # item 1's tokens
    assert titles.input_ids[0, second].tolist() == ids[1, :lengths[1]].tolist()
    assert titles.position_ids[0, second].tolist() == list(range(int(lengths[1])))


def test_padded_calls_on_a_packing_model_are_unchanged():
    """Evaluation and the two-stage extraction may call the model padded: the packed attention
    is then transformers' SDPA with its padding mask."""
    ids, lengths = random_tokens()
    plain = TextFeatures(tiny_model("bert"), ids, lengths).eval()
    packing = TextFeatures(tiny_model("bert"), ids, lengths, packed=True).eval()
    input_ids, mask = packing.padded_tokens(ITEMS)
    with torch.no_grad():
        expected = plain.model(input_ids=input_ids, attention_mask=mask.long())
        got = packing.model(input_ids=input_ids, attention_mask=mask.long())
    torch.testing.assert_close(got.last_hidden_state, expected.last_hidden_state)


def test_a_frozen_packed_encoder_trains_nothing_and_dropout_runs_in_training():
    ids, lengths = random_tokens()
    frozen = TextFeatures(tiny_model("bert"), ids, lengths, packed=True, finetune_layers=0)
    assert not frozen(ITEMS).requires_grad
    model = tiny_model("bert")
    model.config.attention_probs_dropout_prob = 0.5
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.5
    trained = TextFeatures(model, ids, lengths, packed=True).train()
    first, second = trained(ITEMS), trained(ITEMS)
    assert first.shape == (len(ITEMS), 32) and not torch.allclose(first, second)


def test_mpnet_is_refused_with_the_setting_named():
    ids, lengths = random_tokens()
    with pytest.raises(ValueError, match="encoder.packed: MPNetModel"):
        TextFeatures(tiny_model("mpnet"), ids, lengths, packed=True)


@pytest.mark.parametrize("settings", [
    {"name": "id"}, {"name": "vision"}, {"name": "text", "mode": "two_stage"},
    {"name": "text", "finetune_layers": 2}, {"name": "text", "adapter": "side"}])
def test_packing_is_refused_where_it_does_not_apply(settings):
    with pytest.raises(ConfigError, match=r"^encoder\.packed: "):
        EncoderConfig(packed=True, **settings)
