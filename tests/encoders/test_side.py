"""encoder.adapter=side: every layer's state of the frozen encoder computed once, cached on disk
like two-stage features and read back pickle-free; training never runs the encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from morec_core.config import EncoderConfig
from morec_core.encoders import build_item_encoder, text
from morec_core.encoders.base import EncoderInputs
from morec_core.encoders.side import SideFeatures, SideNetwork, states_path

transformers = pytest.importorskip("transformers")

NUM_ITEMS = 10


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    """A 3-layer BERT with random weights saved as a local folder (pretrained=True loads it)."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=3,
                                     num_attention_heads=2, intermediate_size=32,
                                     max_position_embeddings=16)
    transformers.BertModel(config).save_pretrained(folder)
    return str(folder)


def inputs(cache_dir=None) -> EncoderInputs:
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 9, size=NUM_ITEMS + 1).astype(np.int32)
    lengths[0] = 0
    tokens = rng.integers(5, 60, size=(NUM_ITEMS + 1, 8)).astype(np.int32)
    tokens[np.arange(8)[None, :] >= lengths[:, None]] = 0
    return EncoderInputs(num_items=NUM_ITEMS, token_ids=tokens, token_lengths=lengths,
                         feature_cache_dir=cache_dir)


@pytest.fixture
def transformer_calls(monkeypatch) -> list[int]:
    """Every forward call of every text transformer built, as its batch size."""
    calls: list[int] = []
    load = text.load_text_model

    def counting_load(model: str, *, pretrained: bool = True):
        network = load(model, pretrained=pretrained)
        network.register_forward_hook(lambda module, args, kwargs, output:
                                      calls.append(kwargs["input_ids"].shape[0]),
                                      with_kwargs=True)
        return network

    monkeypatch.setattr(text, "load_text_model", counting_load)
    return calls


def side_config(model: str, pooling: str = "cls") -> EncoderConfig:
    return EncoderConfig(name="text", model=model, adapter="side", adapter_rank=4,
                         pooling=pooling)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_the_cached_states_are_each_layers_pooled_state(tiny_bert, tmp_path, pooling):
    encoder = build_item_encoder(side_config(tiny_bert, pooling), inputs(tmp_path), 8,
                                 extract_batch_size=4)
    features = encoder.features
    assert isinstance(features, SideFeatures)
    assert features.states.shape == (NUM_ITEMS + 1, 3 + 1, 16)  # embeddings + 3 layers
    assert not features.states[0].any()  # the padding item has no content

    model = transformers.AutoModel.from_pretrained(tiny_bert).eval()
    item = 5
    length = int(inputs().token_lengths[item])
    ids = torch.from_numpy(inputs().token_ids[item:item + 1, :length]).long()
    with torch.no_grad():
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
    for layer, state in enumerate(hidden):  # (1, length, H) each
        expected = state[0, 0] if pooling == "cls" else state[0].mean(0)
        torch.testing.assert_close(features.states[item, layer], expected, atol=1e-5,
                                   rtol=1e-5)


def test_training_reads_the_cache_and_never_runs_the_encoder(tiny_bert, tmp_path,
                                                             transformer_calls):
    config = side_config(tiny_bert)
    encoder = build_item_encoder(config, inputs(tmp_path), 8, extract_batch_size=4)
    assert transformer_calls == [4, 4, 2], "one extraction pass over items 1..10"
    path = states_path(config, inputs(tmp_path))
    assert path is not None and path.exists() and "layer-states" in path.name
    assert np.load(path, allow_pickle=False).shape == (NUM_ITEMS + 1, 4, 16)

    optimizer = torch.optim.AdamW(encoder.parameter_groups()["encoder"], lr=1e-2)
    states_before = encoder.features.states.clone()
    gates_before = encoder.features.network.gates.detach().clone()
    for epoch in range(2):
        for batch in (torch.tensor([1, 2, 3]), torch.tensor([4, 7, 9, 10])):
            optimizer.zero_grad()
            encoder(batch).square().sum().backward()
            optimizer.step()
        assert transformer_calls == [4, 4, 2], f"epoch {epoch + 1} ran the encoder"
    assert torch.equal(encoder.features.states, states_before)  # the cache is not trained
    assert not torch.equal(encoder.features.network.gates, gates_before)

    again = build_item_encoder(config, inputs(tmp_path), 8)
    assert transformer_calls == [4, 4, 2], "a second run must read the cache"
    torch.testing.assert_close(again.features.states, states_before)
    build_item_encoder(side_config(tiny_bert, "mean"), inputs(tmp_path), 8)
    assert len(transformer_calls) == 4, "other pooling, other states"


def test_a_cache_file_holding_pickled_objects_is_refused(tiny_bert, tmp_path):
    config = side_config(tiny_bert)
    path = states_path(config, inputs(tmp_path))
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.array([{"not": "an array"}] * (NUM_ITEMS + 1), dtype=object),
            allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        build_item_encoder(config, inputs(tmp_path), 8)


def test_random_weights_are_not_cached(tiny_bert, tmp_path):
    config = EncoderConfig(name="text", model=tiny_bert, adapter="side", pretrained=False)
    build_item_encoder(config, inputs(tmp_path), 8)
    assert states_path(config, inputs(tmp_path)) is None and not list(tmp_path.iterdir())


def test_the_untrained_side_network_mixes_the_layers_and_the_top_one_most():
    torch.manual_seed(0)
    states = torch.randn(5, 4, 6)  # (N, L + 1, H)
    mixed = SideNetwork(num_layers=3, width=6, rank=2)(states)
    # g = 1/2 each layer: s_3 = h_3/2 + h_2/4 + h_1/8 + h_0/8 (the up projections are zero).
    expected = states[:, 3] / 2 + states[:, 2] / 4 + states[:, 1] / 8 + states[:, 0] / 8
    torch.testing.assert_close(mixed, expected)
    with pytest.raises(ValueError, match="num_layers"):
        SideFeatures(torch.zeros(5, 6), rank=2)
