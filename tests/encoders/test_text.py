"""The text feature module on tiny random transformers built offline, and the packaged MiniLM."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from morec_core.config import EncoderConfig
from morec_core.encoders import packaged
from morec_core.encoders.base import EncoderInputs
from morec_core.encoders.layers import layer_list
from morec_core.encoders.text import TextFeatures, build_text_encoder, load_tokenizer

transformers = pytest.importorskip("transformers")

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "dog", "a", "red", "blue",
         "sat", "on", "mat", "big", "small", "house", "car", "runs", "fast"]
TITLES = ["", "the red cat", "a big blue house on the mat", "dog", "small car runs fast",
          "the cat sat on the mat", "blue dog"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    """A 2-layer BERT (H=32) with random weights and a word-level vocabulary, saved as a HF
    folder: what a local model directory looks like."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = transformers.BertTokenizer(vocab={w: i for i, w in enumerate(VOCAB)})
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64,
                                     max_position_embeddings=40)
    transformers.BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def token_cache(tokenizer, titles: list[str], max_tokens: int = 30):
    """What the trainer builds: (num_items + 1, T) int32 right-padded with 0, and the lengths."""
    encoded = tokenizer(titles, truncation=True, max_length=max_tokens)["input_ids"]
    lengths = np.array([len(ids) for ids in encoded], np.int32)
    ids = np.zeros((len(titles), max(lengths)), np.int32)
    for row, tokens in enumerate(encoded):
        ids[row, :len(tokens)] = tokens
    return ids, lengths


def text_inputs(folder: str, titles=TITLES) -> EncoderInputs:
    ids, lengths = token_cache(load_tokenizer(folder), titles)
    return EncoderInputs(num_items=len(titles) - 1, token_ids=ids, token_lengths=lengths)


def test_tokenizer_of_a_local_folder_knows_its_words(tiny_bert):
    ids = load_tokenizer(tiny_bert)("the red cat")["input_ids"]
    assert ids == [VOCAB.index(w) for w in ("[CLS]", "the", "red", "cat", "[SEP]")]


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_pooling_matches_the_model_run_by_hand(tiny_bert, pooling):
    inputs = text_inputs(tiny_bert)
    features = build_text_encoder(EncoderConfig(name="text", model=tiny_bert, pooling=pooling),
                                  inputs).eval()
    items = torch.tensor([2, 1, 4])
    got = features(items)
    assert got.shape == (3, 32) and features.feature_dim == 32
    assert features.model.config._attn_implementation == "sdpa"

    model = transformers.AutoModel.from_pretrained(tiny_bert).eval()
    for row, item in enumerate(items.tolist()):
        length = int(inputs.token_lengths[item])
        ids = torch.from_numpy(inputs.token_ids[item:item + 1, :length]).long()
        hidden = model(input_ids=ids).last_hidden_state[0]  # (length, H)
        expected = hidden[0] if pooling == "cls" else hidden.mean(0)
        torch.testing.assert_close(got[row], expected, atol=1e-5, rtol=1e-5)


def test_each_batch_is_cut_to_its_longest_title(tiny_bert):
    inputs = text_inputs(tiny_bert)
    features = build_text_encoder(EncoderConfig(name="text", model=tiny_bert), inputs).eval()
    widths = []
    features.model.embeddings.register_forward_hook(
        lambda module, args, output: widths.append(output.shape[1]))
    short = torch.tensor([3, 6])  # "dog", "blue dog": 3 and 4 tokens with [CLS], [SEP]
    together = features(torch.tensor([3, 2]))
    alone = features(torch.tensor([3]))
    features(short)
    assert widths == [int(inputs.token_lengths[2]), 3, 4]
    assert inputs.token_ids.shape[1] > 4
    # Padding to a longer neighbour changes nothing.
    torch.testing.assert_close(together[0], alone[0], atol=1e-5, rtol=1e-5)


def trainable_names(features: TextFeatures) -> set[str]:
    ids = {id(p) for p in features.parameter_groups()["encoder"]}
    return {name for name, p in features.model.named_parameters() if id(p) in ids}


def test_finetune_all_none_or_the_top_k_layers(tiny_bert):
    inputs = text_inputs(tiny_bert)

    def build(k: int) -> TextFeatures:
        return build_text_encoder(EncoderConfig(name="text", model=tiny_bert, finetune_layers=k),
                                  inputs)

    everything = build(-1)
    assert trainable_names(everything) == {n for n, _ in everything.model.named_parameters()}
    assert getattr(everything.model, "pooler", None) is None  # [CLS] state read directly

    frozen = build(0).train()
    assert frozen.parameter_groups() == {"encoder": []}
    assert not frozen(torch.tensor([1, 2])).requires_grad
    assert not any(module.training for module in frozen.model.modules())

    top = build(1).train()
    layers = layer_list(top.model)
    assert trainable_names(top) == {f"encoder.layer.1.{n}" for n, _ in layers[1].named_parameters()}
    assert layers[1].training and not layers[0].training and not top.model.embeddings.training
    top(torch.tensor([1, 2])).sum().backward()
    assert all(p.grad is not None for p in layers[1].parameters())
    assert all(p.grad is None for p in layers[0].parameters())

    with pytest.raises(ValueError, match="finetune_layers=3"):
        build(3)


def test_training_from_scratch_keeps_the_architecture(tiny_bert):
    inputs = text_inputs(tiny_bert)
    pretrained = build_text_encoder(EncoderConfig(name="text", model=tiny_bert), inputs)
    scratch = build_text_encoder(EncoderConfig(name="text", model=tiny_bert, pretrained=False),
                                 inputs)
    theirs = dict(pretrained.model.named_parameters())
    ours = dict(scratch.model.named_parameters())
    assert {n: p.shape for n, p in ours.items()} == {n: p.shape for n, p in theirs.items()}
    name = "encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(ours[name], theirs[name])


def test_a_token_cache_from_another_tokenizer_is_refused(tiny_bert):
    inputs = text_inputs(tiny_bert)
    ids = inputs.token_ids.copy()
    ids[1, 1] = len(VOCAB) + 5
    with pytest.raises(ValueError, match="another model's tokenizer"):
        build_text_encoder(EncoderConfig(name="text", model=tiny_bert),
                           EncoderInputs(num_items=inputs.num_items, token_ids=ids,
                                         token_lengths=inputs.token_lengths))


def tiny_model(kind: str) -> nn.Module:
    sizes = dict(vocab_size=60, max_position_embeddings=40)
    configs = {
        "bert": transformers.BertConfig(hidden_size=32, num_hidden_layers=3,
                                        num_attention_heads=2, intermediate_size=64, **sizes),
        "mpnet": transformers.MPNetConfig(hidden_size=32, num_hidden_layers=3,
                                          num_attention_heads=2, intermediate_size=64, **sizes),
        "distilbert": transformers.DistilBertConfig(dim=32, n_layers=3, n_heads=2,
                                                    hidden_dim=64, **sizes),
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


@pytest.mark.parametrize("kind", ["bert", "mpnet", "distilbert"])
@pytest.mark.parametrize("k", [1, 3])
def test_precomputed_frozen_layers_give_the_same_vectors(kind, k):
    ids, lengths = random_tokens()
    features = TextFeatures(tiny_model(kind), ids, lengths, pooling="mean",
                            finetune_layers=k).eval()
    items = torch.tensor([3, 1, 24, 0, 7])
    full = features(items)

    features.precompute_frozen(batch_size=7)
    layers = layer_list(features.model)
    calls = []
    for layer in layers:
        layer.register_forward_hook(lambda module, args, output: calls.append(module))
    cached = features(items)
    torch.testing.assert_close(cached, full, atol=1e-5, rtol=1e-5)
    assert len(calls) == k  # only the top k layers ran
    assert features.model.embeddings is not None and layer_list(features.model) is layers

    features.frozen_cache[items] += 1.0  # the cache is what the top layers read
    assert not torch.allclose(features(items), full, atol=1e-3)

    features.clear_frozen_cache()
    torch.testing.assert_close(features(items), full)


def test_compile_network_compiles_the_transformer_in_place_but_not_the_top_k_path():
    ids, lengths = random_tokens()
    features = TextFeatures(tiny_model("mpnet"), ids, lengths)
    names = list(features.state_dict())
    assert features.model._compiled_call_impl is None
    features.compile_network()
    assert features.model._compiled_call_impl is not None  # nn.Module.compile: __call__ compiled
    assert list(features.state_dict()) == names  # checkpoints keep their keys
    with pytest.raises(ValueError, match="top-k"):
        TextFeatures(tiny_model("bert"), ids, lengths, finetune_layers=1).compile_network()


@pytest.mark.slow
def test_a_compiled_network_gives_the_eager_vectors_and_gradients():
    """train.compile changes how the network runs, not what it computes, nor the FLOPs a run
    records (about 30-60 s of compilation on 2 CPU cores)."""
    import copy

    from morec_core.run.cost import flops_of

    ids, lengths = random_tokens()
    eager = TextFeatures(tiny_model("mpnet"), ids, lengths, pooling="mean").eval()
    compiled = copy.deepcopy(eager)
    compiled.compile_network()
    # Two calls of different item counts and title widths: dynamic shapes, no recompilation.
    for items in (torch.tensor([3, 1, 24, 7]), torch.tensor([2, 5, 9, 11, 13, 17, 19])):
        vectors = {}
        for name, features in (("eager", eager), ("compiled", compiled)):
            features.zero_grad(set_to_none=True)
            output = features(items)  # (N, H)
            output.square().sum().backward()
            vectors[name] = (output.detach(), [p.grad for p in features.model.parameters()])
        torch.testing.assert_close(vectors["compiled"][0], vectors["eager"][0],
                                   atol=1e-5, rtol=1e-4)
        for compiled_grad, eager_grad in zip(vectors["compiled"][1], vectors["eager"][1],
                                             strict=True):
            if eager_grad is not None:
                torch.testing.assert_close(compiled_grad, eager_grad, atol=1e-4, rtol=1e-3)
    # Table 6's FLOPs column: the counter sees the compiled network's work too.
    items = torch.tensor([3, 1, 24, 7])
    assert flops_of(lambda: compiled(items)) == flops_of(lambda: eager(items)) > 0


def test_precompute_trains_the_top_layers_and_needs_k():
    ids, lengths = random_tokens()
    features = TextFeatures(tiny_model("bert"), ids, lengths, finetune_layers=1)
    features.precompute_frozen(batch_size=10)
    features.train()
    features(torch.tensor([1, 2, 3])).sum().backward()
    top = layer_list(features.model)[2]
    assert all(p.grad is not None for p in top.parameters())
    assert {id(p) for p in features.parameter_groups()["encoder"]} == \
        {id(p) for p in top.parameters()}
    for k in (-1, 0):
        with pytest.raises(ValueError, match="k > 0"):
            TextFeatures(tiny_model("bert"), ids, lengths, finetune_layers=k).precompute_frozen()


@pytest.mark.skipif(not packaged.installed("minilm-l6"),
                    reason="packaged MiniLM-L6 not installed: "
                           + "; ".join(packaged.pip_lines("minilm-l6")))
def test_packaged_minilm_l6_loads_offline_and_separates_titles(tmp_path):
    titles = ["", "Stock markets fall as oil prices rise", "A recipe for chocolate cake"]
    inputs = text_inputs("minilm-l6", titles)
    features = build_text_encoder(EncoderConfig(name="text", model="minilm-l6",
                                                 finetune_layers=0), inputs)
    vectors = features(torch.tensor([1, 2]))
    assert vectors.shape == (2, 384) and torch.isfinite(vectors).all()
    assert vectors.norm(dim=1).min() > 1.0
    assert torch.cosine_similarity(vectors[0], vectors[1], dim=0) < 0.95
    verified = (tmp_path / "data" / "models" / "sha256-verified.json").read_text()
    assert "model.safetensors" in verified and packaged.MINILM_FILES["model.safetensors"] in verified


def test_a_missing_local_folder_is_not_sent_to_the_hub(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_tokenizer(str(tmp_path / "no-such-model"))


def test_loading_a_model_into_a_log_draws_no_bar(tiny_bert):
    """A worker's log (standard error not a terminal) gets no "Loading weights" bar of
    transformers: its carriage returns piled onto one line of every trial's log."""
    code = ("import sys; from morec_core.encoders.text import load_text_model; "
            "load_text_model(sys.argv[1])")
    done = subprocess.run([sys.executable, "-c", code, tiny_bert], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr and "Loading weights" not in done.stderr, done.stderr
