"""One contract over every registered item encoder x backbone x training mode.

The "toy" encoder stands in for a pretrained modality encoder until (and beside) the real ones;
text, vision and glove join automatically once their modules exist, built from random
initialisation (pretrained=False) on the tiny content below, so no hub download is needed.
"""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from morec_core.backbones import BACKBONES, build_backbone
from morec_core.config import BackboneConfig, EncoderConfig
from morec_core.data.batches import eval_batches, input_length, train_batches, training_data
from morec_core.data.dataset import ItemContent, PreparedDataset
from morec_core.encoders import ENCODERS, build_item_encoder, modality_builder
from morec_core.encoders.base import (
    EncoderInputs,
    SupportsCompileNetwork,
    SupportsEveryItem,
    SupportsPrecomputeFrozen,
)
from morec_core.encoders.heads import FrozenFeatures
from morec_core.run.model import (
    Recommender,
    full_softmax_loss,
    normal_init_,
    sampled_softmax_loss,
)

NUM_ITEMS = 12
DIM = 8
WORDS = ["red", "blue", "green", "apple", "car", "house", "river", "music", "news", "game"]


class ToyContentEncoder(nn.Module):
    """A two-layer stand-in for a pretrained ME: fixed 'content' embeddings, then a Linear.
    finetune_layers follows the config: -1 all, 0 none, k the top k layers."""

    feature_dim = 6

    def __init__(self, num_items: int, finetune_layers: int) -> None:
        super().__init__()
        self.content = nn.Embedding(num_items + 1, 5)
        self.layer = nn.Linear(5, self.feature_dim)
        layers = [self.content, self.layer]
        trainable = layers if finetune_layers == -1 else layers[len(layers) - finetune_layers:]
        for layer in layers:
            layer.requires_grad_(any(layer is chosen for chosen in trainable))

    def forward(self, item_ids: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.layer(self.content(item_ids)))  # (N, 6)

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"encoder": [p for p in self.parameters() if p.requires_grad], "rest": []}


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    """config.model of each real encoder, small and random (pretrained=False): a 2-layer BERT
    configuration in a local folder, timm's test_efficientnet, and a 10-word GloVe folder.
    An encoder missing here is built with its default model."""
    from transformers import BertConfig

    bert = tmp_path_factory.mktemp("tiny-bert")
    BertConfig(vocab_size=2100, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=32, max_position_embeddings=16).save_pretrained(bert)
    glove = tmp_path_factory.mktemp("tiny-glove")
    np.save(glove / "vectors.npy", np.random.default_rng(0).normal(size=(len(WORDS), 8))
            .astype(np.float32))
    (glove / "vocab.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    return {"text": str(bert), "vision": "test_efficientnet", "glove": str(glove)}


@pytest.fixture
def built_toys(monkeypatch) -> list[ToyContentEncoder]:
    """Register "toy" for one test; the list collects every toy module the registry builds."""
    built: list[ToyContentEncoder] = []

    def build_toy(config: EncoderConfig, inputs: EncoderInputs) -> ToyContentEncoder:
        built.append(ToyContentEncoder(inputs.num_items, config.finetune_layers))
        return built[-1]

    monkeypatch.setitem(ENCODERS, "toy", modality_builder(build_toy))
    return built


def tiny_inputs(feature_cache_dir=None) -> EncoderInputs:
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 9, size=NUM_ITEMS + 1).astype(np.int32)
    lengths[0] = 0  # the padding item has no content
    tokens = rng.integers(1000, 2000, size=(NUM_ITEMS + 1, 8)).astype(np.int32)
    tokens[np.arange(8)[None, :] >= lengths[:, None]] = 0
    titles = [""] + [f"{WORDS[i % 10]} {WORDS[(3 * i) % 10]}" for i in range(1, NUM_ITEMS + 1)]
    images = rng.integers(0, 256, size=(NUM_ITEMS + 1, 32, 32, 3), dtype=np.uint8)
    images[0] = 0
    return EncoderInputs(num_items=NUM_ITEMS, token_ids=tokens, token_lengths=lengths,
                         images=images, titles=titles, feature_cache_dir=feature_cache_dir)


def tiny_dataset() -> PreparedDataset:
    rng = np.random.default_rng(1)
    sequences = [rng.integers(1, NUM_ITEMS + 1, size=rng.integers(5, 8)) for _ in range(6)]
    offsets = np.concatenate([[0], np.cumsum([len(sequence) for sequence in sequences])])
    return PreparedDataset(name="tiny", offsets=offsets, items=np.concatenate(sequences),
                           num_items=NUM_ITEMS,
                           content=ItemContent(raw_ids=[], titles=[], image_paths=[]))


# variant -> (EncoderConfig overrides, loss)
VARIANTS = {
    "e2e": ({}, "bce"),
    "e2e_softmax": ({}, "softmax"),
    "e2e_full_softmax": ({}, "full_softmax"),
    "e2e_sampled_softmax": ({}, "sampled_softmax"),
    "top_layer": ({"finetune_layers": 1}, "bce"),
    "frozen": ({"finetune_layers": 0}, "bce"),
    "two_stage": ({"mode": "two_stage"}, "bce"),
    "two_stage_mlp": ({"mode": "two_stage", "mlp_layers": 2}, "bce"),
    "two_stage_full_softmax": ({"mode": "two_stage", "mlp_layers": 1}, "full_softmax"),
    "fusion_add_two_stage": ({"mode": "two_stage", "fusion": "add", "fusion_mlp_layers": 2}, "bce"),
    "fusion_concat_e2e": ({"fusion": "concat"}, "bce"),
}
ID_VARIANTS = ("e2e", "e2e_softmax", "e2e_full_softmax", "e2e_sampled_softmax")
ID_ONLY = ("e2e_full_softmax",)  # a full softmax is for ID or two-stage encoders
CASES = [(name, variant, backbone_name)
         for name in sorted({*ENCODERS, "toy"}) for variant in VARIANTS
         for backbone_name in sorted(BACKBONES)
         if (variant in ID_VARIANTS if name == "id" else variant not in ID_ONLY)]


def build_model(name: str, variant: str, backbone_name: str, model: str = ""):
    overrides, loss = VARIANTS[variant]
    config = EncoderConfig(name=name, model=model, pretrained=False, **overrides)
    torch.manual_seed(0)
    try:
        item_encoder = build_item_encoder(config, tiny_inputs(), DIM)
    except ModuleNotFoundError as error:
        if (error.name or "").startswith("morec_core.encoders."):
            pytest.skip(f"{error.name} is not written yet")
        raise
    dataset = tiny_dataset()
    window = input_length(dataset)
    backbone = build_backbone(BackboneConfig(name=backbone_name, embed_dim=DIM, mlp_layers=1),
                              num_users=dataset.num_users, max_length=window)
    model = Recommender(item_encoder, backbone, loss, num_items=NUM_ITEMS)
    batch = next(train_batches(training_data(dataset, window), model.kind, batch_size=4,
                               rng=np.random.default_rng(0)))
    return model, dataset, batch


@pytest.mark.parametrize(("name", "variant", "backbone_name"), CASES)
def test_encoder_backbone_contract(name, variant, backbone_name, built_toys, tiny_models):
    model, dataset, batch = build_model(name, variant, backbone_name, tiny_models.get(name, ""))
    overrides, _loss = VARIANTS[variant]

    item_ids = torch.tensor([1, 5, NUM_ITEMS])
    vectors = model.item_encoder(item_ids)
    assert model.item_encoder.output_dim == DIM
    assert vectors.shape == (3, DIM) and torch.isfinite(vectors).all()

    groups = model.parameter_groups()
    assert set(groups) == {"encoder", "rest"}
    grouped = [parameter for group in groups.values() for parameter in group]
    trainable = {id(parameter) for parameter in grouped}
    assert len(trainable) == len(grouped), "a parameter sits in two groups"
    assert trainable == {id(p) for p in model.parameters() if p.requires_grad}, \
        "every trainable parameter, and only those, must reach the optimizer"
    if overrides.get("mode") == "two_stage" or overrides.get("finetune_layers") == 0:
        assert groups["encoder"] == []
    elif name != "id":
        assert groups["encoder"], "a fine-tuned ME must expose its parameters"

    def tensors():  # parameters and every buffer, persistent or not (two-stage features)
        return {**dict(model.named_parameters()), **dict(model.named_buffers())}

    state_before = {key: value.detach().clone() for key, value in tensors().items()}
    toy_before = [p.detach().clone() for toy in built_toys for p in toy.parameters()]
    model.train()
    loss = model.loss(batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    optimizer = torch.optim.AdamW([{"params": group} for group in groups.values() if group],
                                  lr=1e-2)
    loss.backward()
    optimizer.step()

    changed_per_group = {group: False for group in groups}
    named = dict(model.named_parameters())
    modules = dict(model.named_modules())
    for key, value in tensors().items():
        changed = not torch.equal(value, state_before[key])
        parameter = named.get(key)
        if parameter is None:
            # A buffer (two-stage features, BatchNorm statistics) may only move with a layer
            # that is being trained.
            owner = modules[key.rpartition(".")[0]]
            assert not changed or any(p.requires_grad for p in owner.parameters(recurse=False)), \
                f"buffer {key} of a frozen layer changed"
            continue
        if id(parameter) not in trainable:
            assert not changed, f"{key} is frozen but changed"
            continue
        if parameter.grad is not None and parameter.grad.abs().sum() > 0:
            assert changed, f"{key} has a gradient but did not change"
        for group, members in groups.items():
            if any(parameter is member for member in members):
                changed_per_group[group] |= changed
    assert all(changed_per_group[group] for group in groups if groups[group])

    if overrides.get("mode") == "two_stage" and name == "toy":
        # The extractor is dropped after extraction, and its features are what it computes.
        (toy,) = built_toys
        assert not any(module is toy for module in model.modules())
        frozen = next(m for m in model.modules() if isinstance(m, FrozenFeatures))
        with torch.no_grad():
            expected = toy.eval()(torch.arange(1, NUM_ITEMS + 1))
        torch.testing.assert_close(frozen.features[1:], expected)
        assert torch.equal(frozen.features[0], torch.zeros(toy.feature_dim))
    for before, toy_parameter in zip(toy_before,
                                     [p for toy in built_toys for p in toy.parameters()],
                                     strict=True):
        if not toy_parameter.requires_grad:
            assert torch.equal(before, toy_parameter)

    model.eval()
    (evaluation,) = eval_batches(dataset, "test", batch_size=10)
    with torch.no_grad():
        table = model.item_table(batch_size=5)
        scores = model.score_all(evaluation, table)
    assert table.shape == (NUM_ITEMS + 1, DIM)
    assert scores.shape == (dataset.num_users, NUM_ITEMS + 1)
    assert torch.isneginf(scores[:, 0]).all() and torch.isfinite(scores[:, 1:]).all()


def test_each_distinct_item_is_encoded_once_per_batch():
    model, _dataset, batch = build_model("id", "e2e", "sasrec")
    sizes: list[int] = []
    model.item_encoder.register_forward_hook(lambda module, args, output:
                                             sizes.append(args[0].numel()))
    model.loss(batch)
    distinct = torch.unique(batch.item_ids())
    assert sizes == [int((distinct > 0).sum())]  # one call; padding is never encoded
    assert batch.item_ids().numel() > 2 * sizes[0]


def test_two_stage_features_are_cached_and_reused(tmp_path, built_toys):
    config = EncoderConfig(name="toy", mode="two_stage", pretrained=True)
    first = build_item_encoder(config, tiny_inputs(feature_cache_dir=tmp_path), DIM)
    second = build_item_encoder(config, tiny_inputs(feature_cache_dir=tmp_path), DIM)
    assert len(built_toys) == 1, "the second build must read the cache, not run the encoder"
    assert [path.suffix for path in tmp_path.iterdir()] == [".npy"]
    torch.testing.assert_close(first.features.features, second.features.features)
    other = build_item_encoder(EncoderConfig(name="toy", mode="two_stage", pretrained=True,
                                             model="another"),
                               tiny_inputs(feature_cache_dir=tmp_path), DIM)
    assert len(built_toys) == 2 and len(list(tmp_path.iterdir())) == 2
    assert not torch.equal(other.features.features, first.features.features)
    retitled = dataclasses.replace(tiny_inputs(feature_cache_dir=tmp_path),
                                   titles=[""] + ["same title"] * NUM_ITEMS)
    build_item_encoder(config, retitled, DIM)  # other content: other features
    assert len(built_toys) == 3 and len(list(tmp_path.iterdir())) == 3
    random_init = EncoderConfig(name="toy", mode="two_stage", pretrained=False)
    build_item_encoder(random_init, tiny_inputs(feature_cache_dir=tmp_path), DIM)
    assert len(list(tmp_path.iterdir())) == 3, "seed-dependent features must not be cached"


def test_optional_hooks_are_found_where_they_exist(tiny_models):
    """build_run and the full softmax find an encoder's optional hooks by isinstance on the
    protocols of encoders/base.py: a renamed hook would be skipped without a word."""
    inputs = tiny_inputs()
    text = build_item_encoder(EncoderConfig(name="text", model=tiny_models["text"],
                                            pretrained=False, finetune_layers=1), inputs, DIM)
    vision = build_item_encoder(EncoderConfig(name="vision", model=tiny_models["vision"],
                                              pretrained=False), inputs, DIM)
    identity = build_item_encoder(EncoderConfig(name="id"), inputs, DIM)

    def hooks(encoder: nn.Module) -> set[str]:
        return {hook.__name__ for module in encoder.modules()
                for hook in (SupportsPrecomputeFrozen, SupportsCompileNetwork, SupportsEveryItem)
                if isinstance(module, hook)}

    assert hooks(text) == {"SupportsPrecomputeFrozen", "SupportsCompileNetwork"}
    assert hooks(vision) == {"SupportsCompileNetwork"}
    assert hooks(identity) == {"SupportsEveryItem"}
    assert not isinstance(text, SupportsEveryItem)  # its vectors come from content, not a table


def test_unknown_encoder_lists_the_known_ones():
    with pytest.raises(ValueError, match="id"):
        build_item_encoder(EncoderConfig(name="audio"), tiny_inputs(), DIM)


def test_id_encoder_refuses_modality_settings():
    with pytest.raises(ValueError, match="two_stage"):
        build_item_encoder(EncoderConfig(name="id", mode="two_stage"), tiny_inputs(), DIM)
    with pytest.raises(ValueError, match="mlp_layers"):
        build_item_encoder(EncoderConfig(name="id", mlp_layers=2), tiny_inputs(), DIM)


def test_full_softmax_is_cross_entropy_over_every_item():
    """Against an explicit log-softmax over all items, computed from the model's own states."""
    model, _dataset, batch = build_model("id", "e2e_full_softmax", "sasrec")
    model.eval()  # no dropout: both computations see the same states
    loss = model.loss(batch)
    table = model.item_table()  # (I + 1, d)
    states = model.backbone.train_states(batch, lambda item_ids: table[item_ids])
    real = batch.targets > 0
    log_probabilities = torch.log_softmax(states[real] @ table[1:].T, dim=-1)  # (M, I)
    expected = -log_probabilities[torch.arange(int(real.sum())), batch.targets[real] - 1].mean()
    torch.testing.assert_close(loss, expected)
    # The ID table is handed over whole (no gather), equal to encoding every item.
    every_item = torch.arange(1, NUM_ITEMS + 1)
    torch.testing.assert_close(model.item_encoder.every_item(), model.item_encoder(every_item))
    # Every item gets a gradient, not only those of the batch; the padding row none.
    loss.backward()
    gradient = model.item_encoder.embedding.weight.grad
    assert (gradient[1:].abs().sum(-1) > 0).all()
    assert not gradient[0].any()


def test_sampled_softmax_over_every_item_is_the_full_softmax():
    """With every item drawn once, masking each row's own target among the draws leaves exactly
    the full softmax's candidates."""
    torch.manual_seed(0)
    table = torch.randn(NUM_ITEMS + 1, DIM)
    states = torch.randn(9, DIM)
    targets = torch.randint(1, NUM_ITEMS + 1, (9,))
    every_item = torch.arange(1, NUM_ITEMS + 1)
    sampled = sampled_softmax_loss(states, targets, every_item, lambda ids: table[ids])
    torch.testing.assert_close(sampled, full_softmax_loss(states, targets, table))
    # Draws that all hit the target leave it alone among the candidates: nothing to learn.
    only_hits = sampled_softmax_loss(states[:1], targets[:1], targets[:1].repeat(5),
                                     lambda ids: table[ids])
    assert only_hits.item() == 0.0


def test_sampled_softmax_draws_from_the_seeded_generator_and_encodes_them_once():
    model, _dataset, batch = build_model("id", "e2e_sampled_softmax", "sasrec")
    model.sampled_negatives = 7
    model.eval()
    encoded: list[torch.Tensor] = []
    model.item_encoder.register_forward_hook(lambda module, args, output:
                                             encoded.append(args[0]))
    torch.manual_seed(5)
    first = model.loss(batch)
    torch.manual_seed(5)
    again = model.loss(batch)
    other = model.loss(batch)  # the generator moved on: other draws
    torch.testing.assert_close(first, again)
    assert not torch.equal(first, other)
    assert len(encoded) == 3 and torch.equal(encoded[0], torch.unique(encoded[0]))


def test_softmax_losses_do_not_encode_the_per_position_negatives():
    model, _dataset, batch = build_model("id", "e2e_softmax", "sasrec")
    encoded: list[torch.Tensor] = []
    model.item_encoder.register_forward_hook(lambda module, args, output:
                                             encoded.append(args[0]))
    model.loss(batch)
    batch_items = torch.unique(torch.cat([batch.inputs.flatten(), batch.targets.flatten()]))
    assert torch.equal(encoded[0], batch_items[batch_items > 0])
    assert set(batch.negatives[batch.negatives > 0].tolist()) - set(batch_items.tolist()), \
        "the batch must hold a negative that no input or target is, or this test proves nothing"


def test_normal_init_starts_what_is_trained_from_scratch_and_nothing_else(built_toys):
    model, _dataset, _batch = build_model("toy", "fusion_concat_e2e", "sasrec")
    encoder = model.parameter_groups()["encoder"]
    assert encoder, "the toy encoder stands in for a pretrained one"
    before = [parameter.detach().clone() for parameter in encoder]
    normal_init_(model)
    assert all(torch.equal(parameter, old) for parameter, old in zip(encoder, before, strict=True))
    from_scratch = [module for module in model.modules()
                    if isinstance(module, torch.nn.Linear | torch.nn.Embedding)
                    and all(module.weight is not parameter for parameter in encoder)]
    assert any(isinstance(module, torch.nn.Embedding) for module in from_scratch)  # the IDs
    weights = torch.cat([module.weight.detach().flatten() for module in from_scratch])
    assert abs(weights.std().item() - 0.02) < 0.002
    for module in from_scratch:
        if isinstance(module, torch.nn.Linear) and module.bias is not None:
            assert not module.bias.any()
        if isinstance(module, torch.nn.Embedding) and module.padding_idx is not None:
            assert not module.weight[module.padding_idx].any()


def test_unknown_loss_is_refused():
    model, _dataset, _batch = build_model("id", "e2e", "sasrec")
    with pytest.raises(ValueError, match="bce"):
        Recommender(model.item_encoder, model.backbone, "hinge", num_items=NUM_ITEMS)


def test_full_softmax_matches_the_library_cross_entropy_in_value_and_gradients():
    torch.manual_seed(0)
    table = torch.randn(NUM_ITEMS + 1, DIM, requires_grad=True)
    states = torch.randn(11, DIM, requires_grad=True)
    targets = torch.randint(1, NUM_ITEMS + 1, (11,))
    ours = full_softmax_loss(states, targets, table)
    ours_gradients = torch.autograd.grad(ours, (states, table))
    expected = torch.nn.functional.cross_entropy(states @ table[1:].T, targets - 1)
    expected_gradients = torch.autograd.grad(expected, (states, table))
    torch.testing.assert_close(ours, expected)
    for got, want in zip(ours_gradients, expected_gradients, strict=True):
        torch.testing.assert_close(got, want)
    # Under bf16 autocast the loss is still computed, and returned, in float32.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = full_softmax_loss(states.bfloat16(), targets, table)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, expected, atol=0.05, rtol=0.01)
