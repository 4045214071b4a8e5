"""encoder.adapter: LoRA, Houlsby adapters and the side network, through the registry, on tiny
random transformers (text) and timm's test_vit (vision).

One contract over every adapter arm: shapes, one optimizer step, the pretrained weights frozen
and unchanged, only the adapters' parameters trained (and changed by the step)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from morec_core.backbones import build_backbone
from morec_core.config import BackboneConfig, ConfigError, EncoderConfig, RunSpec
from morec_core.data.batches import input_length, train_batches, training_data
from morec_core.data.dataset import ItemContent, PreparedDataset
from morec_core.encoders import build_item_encoder
from morec_core.encoders.adapters import AdapterSpec, HoulsbyAdapter, insert_adapters
from morec_core.encoders.base import EncoderInputs
from morec_core.encoders.side import SideFeatures
from morec_core.encoders.text import TextFeatures
from morec_core.encoders.vision import VisionFeatures, timm_backbone
from morec_core.run.model import Recommender

transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

NUM_ITEMS = 12
DIM = 8


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> str:
    """A 2-layer BERT configuration (random weights, pretrained=False) in a local folder."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    transformers.BertConfig(vocab_size=2100, hidden_size=16, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=32,
                            max_position_embeddings=16).save_pretrained(folder)
    return str(folder)


def tiny_inputs(with_images: bool = False) -> EncoderInputs:
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 9, size=NUM_ITEMS + 1).astype(np.int32)
    lengths[0] = 0
    tokens = rng.integers(1000, 2000, size=(NUM_ITEMS + 1, 8)).astype(np.int32)
    tokens[np.arange(8)[None, :] >= lengths[:, None]] = 0
    images = (rng.integers(0, 256, size=(NUM_ITEMS + 1, 160, 160, 3), dtype=np.uint8)
              if with_images else None)
    return EncoderInputs(num_items=NUM_ITEMS, token_ids=tokens, token_lengths=lengths,
                         images=images)


def tiny_dataset() -> PreparedDataset:
    rng = np.random.default_rng(1)
    sequences = [rng.integers(1, NUM_ITEMS + 1, size=rng.integers(5, 8)) for _ in range(6)]
    offsets = np.concatenate([[0], np.cumsum([len(sequence) for sequence in sequences])])
    return PreparedDataset(name="tiny", offsets=offsets, items=np.concatenate(sequences),
                           num_items=NUM_ITEMS,
                           content=ItemContent(raw_ids=[], titles=[], image_paths=[]))


def adapter_parameters(encoder: nn.Module) -> set[int]:
    """ids of the parameters the adapters brought, found by module type (not by name)."""
    from peft.tuners.lora import LoraLayer

    found: set[int] = set()
    for module in encoder.modules():
        if isinstance(module, HoulsbyAdapter):
            found |= {id(p) for p in [*module.down.parameters(), *module.up.parameters()]}
        elif isinstance(module, LoraLayer):
            found |= {id(p) for p in [*module.lora_A.parameters(), *module.lora_B.parameters()]}
        elif isinstance(module, SideFeatures):
            found |= {id(p) for p in module.network.parameters()}
    return found


ARMS = [("text", "lora"), ("text", "houlsby"), ("text", "side"), ("vision", "lora"),
        ("vision", "houlsby")]


@pytest.mark.parametrize(("modality", "adapter"), ARMS)
def test_adapter_arm_contract(modality, adapter, tiny_bert):
    model_name = tiny_bert if modality == "text" else "test_vit"
    config = EncoderConfig(name=modality, model=model_name, pretrained=False, adapter=adapter,
                           adapter_rank=4)
    torch.manual_seed(0)
    item_encoder = build_item_encoder(config, tiny_inputs(with_images=modality == "vision"), DIM)
    dataset = tiny_dataset()
    window = input_length(dataset)
    backbone = build_backbone(BackboneConfig(embed_dim=DIM), num_users=dataset.num_users,
                              max_length=window)
    model = Recommender(item_encoder, backbone, "bce", num_items=NUM_ITEMS)

    vectors = model.item_encoder(torch.tensor([1, 5, NUM_ITEMS]))
    assert vectors.shape == (3, DIM) and torch.isfinite(vectors).all()

    groups = model.parameter_groups()
    features = item_encoder.features
    adapters = adapter_parameters(features)
    assert adapters and {id(p) for p in groups["encoder"]} == adapters, \
        "the encoder group is the adapters' parameters, all of them"
    frozen = {name: p.detach().clone() for name, p in features.named_parameters()
              if id(p) not in adapters}
    assert all(not p.requires_grad for name, p in features.named_parameters()
               if id(p) not in adapters), "a pretrained weight is trainable"
    if adapter == "side":
        assert not any(isinstance(m, transformers.PreTrainedModel) for m in model.modules()), \
            "the side network's encoder must be dropped after extraction"
    else:
        network = features.model if modality == "text" else features.backbone
        assert sum(p.numel() for p in network.parameters() if id(p) in adapters) \
            < 0.5 * sum(p.numel() for p in network.parameters())
    before = {id(p): p.detach().clone() for p in groups["encoder"]}

    batch = next(train_batches(training_data(dataset, window), model.kind, batch_size=4,
                               rng=np.random.default_rng(0)))
    model.train()
    optimizer = torch.optim.AdamW([{"params": group} for group in groups.values()], lr=1e-2)
    loss = model.loss(batch)
    loss.backward()
    optimizer.step()

    for name, parameter in features.named_parameters():
        if name in frozen:
            assert parameter.grad is None and torch.equal(parameter, frozen[name]), name
    changed = [not torch.equal(p, before[id(p)]) for p in groups["encoder"]]
    assert any(changed), "one step must change the adapters"
    for parameter, moved in zip(groups["encoder"], changed, strict=True):
        if parameter.grad is not None and parameter.grad.abs().sum() > 0:
            assert moved


@pytest.mark.parametrize("kind", ["lora", "houlsby"])
@pytest.mark.parametrize("architecture", ["bert", "mpnet", "distilbert"])
def test_an_untrained_adapter_leaves_the_pretrained_function(kind, architecture):
    """LoRA's B and Houlsby's up projection start at zero: before training, the adapted network
    is the pretrained one (so adapting starts from the pretrained features)."""
    sizes = dict(vocab_size=60, max_position_embeddings=40)
    configs = {
        "bert": transformers.BertConfig(hidden_size=32, num_hidden_layers=2,
                                        num_attention_heads=2, intermediate_size=64, **sizes),
        "mpnet": transformers.MPNetConfig(hidden_size=32, num_hidden_layers=2,
                                          num_attention_heads=2, intermediate_size=64, **sizes),
        "distilbert": transformers.DistilBertConfig(dim=32, n_layers=2, n_heads=2,
                                                    hidden_dim=64, **sizes),
    }
    inputs = tiny_inputs()
    ids = np.minimum(inputs.token_ids, 59)

    def build(adapter: AdapterSpec | None) -> TextFeatures:
        torch.manual_seed(0)
        model = transformers.AutoModel.from_config(configs[architecture])
        return TextFeatures(model, ids, inputs.token_lengths, adapter=adapter).eval()

    plain, adapted = build(None), build(AdapterSpec(kind=kind, rank=4))
    items = torch.tensor([1, 4, 9])
    with torch.no_grad():
        torch.testing.assert_close(adapted(items), plain(items))
    wrapped = [m for m in adapted.model.modules() if isinstance(m, HoulsbyAdapter)]
    if kind == "houlsby":
        assert len(wrapped) == 2 * 2  # attention and feed-forward output of each layer
    trainable = [name for name, p in adapted.model.named_parameters() if p.requires_grad]
    assert trainable and all(("lora_" in n) if kind == "lora" else (".down." in n or ".up." in n)
                             for n in trainable), trainable


def test_lora_targets_are_the_ones_named_and_unknown_ones_are_refused(tiny_bert):
    torch.manual_seed(0)
    model = transformers.BertModel(transformers.BertConfig.from_pretrained(tiny_bert))
    insert_adapters(model, AdapterSpec(kind="lora", rank=2, targets=("key",)))
    adapted = {name.rpartition(".lora_")[0] for name, p in model.named_parameters()
               if p.requires_grad}
    assert adapted == {f"encoder.layer.{i}.attention.self.key" for i in range(2)}
    fresh = transformers.BertModel(transformers.BertConfig.from_pretrained(tiny_bert))
    with pytest.raises(ValueError, match="encoder.lora_targets"):
        insert_adapters(fresh, AdapterSpec(kind="lora", targets=("no_such_module",)))


def test_a_cnn_needs_named_lora_targets_and_has_no_houlsby_points():
    images = np.zeros((3, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="encoder.lora_targets"):
        VisionFeatures(timm_backbone("test_efficientnet", pretrained=False), images,
                       adapter=AdapterSpec(kind="lora"))
    with pytest.raises(ValueError, match="encoder.adapter=houlsby"):
        VisionFeatures(timm_backbone("test_efficientnet", pretrained=False), images,
                       adapter=AdapterSpec(kind="houlsby"))
    convolutions = VisionFeatures(timm_backbone("test_efficientnet", pretrained=False), images,
                                  adapter=AdapterSpec(kind="lora", targets=("conv_pw",)))
    assert convolutions.parameter_groups()["encoder"]


@pytest.mark.parametrize(("settings", "key"), [
    ({"name": "id", "adapter": "lora"}, "encoder.adapter"),
    ({"name": "glove", "adapter": "houlsby"}, "encoder.adapter"),
    ({"name": "vision", "adapter": "side"}, "encoder.adapter"),
    ({"name": "text", "adapter": "lora", "mode": "two_stage"}, "encoder.adapter"),
    ({"name": "text", "adapter": "lora", "finetune_layers": 1}, "encoder.finetune_layers"),
    ({"name": "text", "adapter": "adapterfusion"}, "encoder.adapter"),
    ({"name": "text", "adapter": "lora", "adapter_rank": 0}, "encoder.adapter_rank"),
    ({"name": "text", "adapter": "lora", "lora_alpha": 0}, "encoder.lora_alpha"),
    ({"name": "text", "adapter": "houlsby", "lora_targets": ("query",)}, "encoder.lora_targets"),
])
def test_unsupported_combinations_are_one_line_naming_the_setting(settings, key):
    with pytest.raises(ConfigError, match=rf"^{key}: ") as raised:
        EncoderConfig(**settings)
    assert "\n" not in str(raised.value)


def test_adapter_settings_keep_old_keys_at_their_defaults_and_change_them_when_set():
    """(test_config.py checks that every HASHED_WHEN_SET entry at its default leaves a
    recorded run's key as it was.)"""
    from morec_core.config import HASHED_WHEN_SET

    fields = ("adapter", "adapter_rank", "lora_alpha", "lora_targets")
    assert {("encoder", name) for name in fields} <= set(HASHED_WHEN_SET)
    base = RunSpec().with_overrides(["encoder.name=text"])
    keys = {base.spec_key}
    for override in ("encoder.adapter=lora", "encoder.adapter=lora,encoder.adapter_rank=4"):
        spec = base.with_overrides(override.split(","))
        keys.add(spec.spec_key)
        assert RunSpec.from_json(spec.to_json()) == spec
    assert len(keys) == 3
    # Packed titles compute the padded function: never part of the key (as train.compile).
    assert base.with_overrides(["encoder.packed=true"]).spec_key == base.spec_key
    targets = base.with_overrides(["encoder.adapter=lora", "encoder.lora_targets=query,key"])
    assert targets.encoder.lora_targets == ("query", "key")
    with pytest.raises(ConfigError, match="^train.compile: "):
        base.with_overrides(["encoder.adapter=side", "train.compile=true"])


def test_the_efficient_study_runs_every_arm_under_the_same_grid_budget():
    from collections import Counter

    from morec_core.study.studies import find_study

    study = find_study("microlens_efficient")
    points = study.points()
    assert set(Counter(point.arm for point in points).values()) == {3}
    setups = {(p.spec.encoder.name, p.spec.encoder.mode, p.spec.encoder.adapter,
               p.spec.encoder.finetune_layers) for p in points}
    assert setups == {("text", "e2e", "none", -1), ("text", "e2e", "none", 2),
                      ("text", "e2e", "lora", -1), ("text", "e2e", "houlsby", -1),
                      ("text", "e2e", "side", -1), ("text", "two_stage", "none", -1),
                      ("id", "e2e", "none", -1)}
    assert study.seed_values == (42, 43, 44)
