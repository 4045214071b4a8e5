import json

import pytest

from morec_core.config import ConfigError, RunSpec


def test_round_trip_through_dict_and_json():
    spec = RunSpec().with_overrides(["encoder.name=text", "encoder.model=minilm-l6",
                                     "train.lr_encoder=5e-5", "eval.mask_history=false"])
    assert RunSpec.from_dict(spec.to_dict()) == spec
    assert RunSpec.from_json(spec.to_json()) == spec
    assert spec.encoder.model == "minilm-l6"
    assert spec.train.lr_encoder == 5e-5
    assert spec.eval.mask_history is False


def test_missing_keys_take_defaults():
    spec = RunSpec.from_dict({"backbone": {"embed_dim": 128}})
    assert spec.backbone.embed_dim == 128
    assert spec.backbone.num_blocks == 2
    assert spec.train == RunSpec().train


@pytest.mark.parametrize("raw, named", [
    ({"trian": {}}, "trian"),
    ({"train": {"learning_rate": 0.1}}, "train.learning_rate"),
    ({"train": {"lr": "fast"}}, "train.lr"),
    ({"train": {"epochs": 2.5}}, "train.epochs"),
    ({"train": {"epochs": True}}, "train.epochs"),
    ({"eval": {"mask_history": 1}}, "eval.mask_history"),
    ({"data": {"source": 3}}, "data.source"),
    ({"data": []}, "data"),
    ({"backbone": {"embed_dim": 10, "num_heads": 3}}, "backbone.num_heads"),
    ({"encoder": {"mode": "three_stage"}}, "encoder.mode"),
    ({"train": {"loss": "hinge"}}, "train.loss"),
    ({"encoder": {"name": "text"}, "train": {"loss": "full_softmax"}}, "train.loss"),
    ({"train": {"compile": True}}, "train.compile"),  # an ID table has no network to compile
    ({"encoder": {"name": "text", "mode": "two_stage"}, "train": {"compile": True}},
     "train.compile"),
    ({"encoder": {"name": "text", "finetune_layers": 2}, "train": {"compile": True}},
     "train.compile"),
])
def test_rejects_unknown_keys_and_wrong_types_naming_the_key(raw, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        RunSpec.from_dict(raw)


def test_compile_is_accepted_for_end_to_end_networks():
    for encoder in ({"name": "text"}, {"name": "text", "finetune_layers": 0},
                    {"name": "vision", "finetune_layers": 2}):
        assert RunSpec.from_dict({"encoder": encoder, "train": {"compile": True}}).train.compile


def test_int_is_accepted_where_a_float_is_expected():
    assert RunSpec.from_dict({"train": {"lr": 1}}).train.lr == 1.0


@pytest.mark.parametrize("override, named", [
    ("train.lr", "section.key=value"),
    ("lr=0.1", "section.key=value"),
    ("trian.lr=0.1", "trian"),
    ("train.lrr=0.1", "train.lrr"),
    ("train.epochs=ten", "train.epochs"),
    ("eval.mask_history=maybe", "eval.mask_history"),
])
def test_bad_overrides_name_the_key(override, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        RunSpec().with_overrides([override])


def test_spec_key_ignores_the_seed_and_compilation_but_nothing_else():
    base = RunSpec()
    other_seed = base.with_overrides(["train.seed=7"])
    other_encoder = base.with_overrides(["encoder.name=text"])
    assert base.spec_key == other_seed.spec_key
    assert base.spec_key != other_encoder.spec_key
    assert base.to_json() != other_seed.to_json()
    compiled = other_encoder.with_overrides(["train.compile=true"])
    assert compiled.spec_key == other_encoder.spec_key
    assert other_encoder.with_overrides(["train.lr=0.01"]).spec_key != other_encoder.spec_key


def test_json_is_stable_and_complete():
    raw = json.loads(RunSpec().to_json())
    assert set(raw) == {"data", "encoder", "backbone", "train", "eval"}
    assert raw["train"]["seed"] == 42
