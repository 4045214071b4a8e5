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
    # Packed titles compute the padded path's function: packed and padded runs pool as seeds.
    assert other_encoder.with_overrides(["encoder.packed=true"]).spec_key == other_encoder.spec_key
    assert other_encoder.with_overrides(["train.lr=0.01"]).spec_key != other_encoder.spec_key


def test_json_is_stable_and_complete():
    raw = json.loads(RunSpec().to_json())
    assert set(raw) == {"data", "encoder", "backbone", "train", "eval"}
    assert raw["train"]["seed"] == 42


# Issue 12: settings that used to end in a traceback far from the command line, or to run.
@pytest.mark.parametrize("override, message", [
    ("train.device=cudaXYZ", "train.device: must be auto, cpu, cuda, cuda:N or mps, got 'cudaXYZ'"),
    ("train.device=cuda:", "train.device: must be auto, cpu, cuda, cuda:N or mps, got 'cuda:'"),
    ("train.device=cuda:-1", "train.device: must be auto, cpu, cuda, cuda:N or mps, got 'cuda:-1'"),
    ("train.device=gpu", "train.device: must be auto, cpu, cuda, cuda:N or mps, got 'gpu'"),
    ("backbone.embed_dim=1000000000",
     "backbone.embed_dim: must be in [1, 65,536], got 1,000,000,000"),
    ("train.seed=-1", "train.seed: must be in [0, 2**32 - 1], got -1"),
    ("train.seed=4294967296", "train.seed: must be in [0, 2**32 - 1], got 4294967296"),
    ("data.sample_seed=-1", "data.sample_seed: must be in [0, 2**32 - 1], got -1"),
    ("train.lr=inf", "train.lr: must be a finite number, got inf"),
    ("train.lr=nan", "train.lr: must be a finite number, got nan"),
    ("train.weight_decay=inf", "train.weight_decay: must be a finite number, got inf"),
    ("backbone.dropout=nan", "backbone.dropout: must be a finite number, got nan"),
])
def test_bad_settings_are_refused_in_one_line_naming_the_setting(override, message):
    with pytest.raises(ConfigError) as raised:
        RunSpec().with_overrides([override])
    assert str(raised.value) == message


def _float_fields() -> list[tuple[str, str]]:
    import dataclasses
    import typing

    return [(section.name, key) for section in dataclasses.fields(RunSpec)
            for key, hint in typing.get_type_hints(typing.get_type_hints(RunSpec)[section.name])
            .items() if hint is float]


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize(("section", "key"), _float_fields())
def test_every_float_setting_refuses_non_finite_values(section, key, value):
    # From JSON too: Python's json reads Infinity and NaN.
    raw = json.loads(json.dumps({section: {key: value}}))
    with pytest.raises(ConfigError) as raised:
        RunSpec.from_dict(raw)
    assert str(raised.value) == f"{section}.{key}: must be a finite number, got {value}"


def test_float_fields_are_found():
    assert {"train.lr", "train.weight_decay", "backbone.dropout"} <= {
        f"{section}.{key}" for section, key in _float_fields()}


@pytest.mark.parametrize("override", [
    "train.device=auto", "train.device=cpu", "train.device=cuda", "train.device=cuda:3",
    "train.device=mps", "backbone.embed_dim=65536", "train.seed=0", "train.seed=4294967295",
    "data.sample_seed=4294967295"])
def test_the_limits_themselves_are_accepted(override):
    RunSpec().with_overrides([override])


def test_settings_added_later_keep_the_keys_of_runs_recorded_before_them():
    """A run recorded before the data settings of `HASHED_WHEN_SET` existed has the key of the
    spec without them; at their defaults they leave the key as it was, set they change it."""
    import hashlib
    import json

    from morec_core.config import HASHED_WHEN_SET

    spec = RunSpec().with_overrides(["data.source=pairs", "train.lr=5e-4"])
    before = spec.to_dict()
    del before["train"]["seed"], before["train"]["compile"]
    del before["encoder"]["packed"]  # never hashed: packed titles compute the same function
    del before["data"]["min_text_coverage"]  # never hashed: a threshold, whether a run starts
    del before["train"]["stop_on_collapse"]  # never hashed: when a run stops, not what it is
    for section, name in HASHED_WHEN_SET:
        del before[section][name]
    old_key = hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]
    assert spec.spec_key == old_key
    assert spec.with_overrides(["data.dedupe=keep"]).spec_key != old_key
    assert spec.with_overrides(["eval.ties=optimistic"]).spec_key != spec.spec_key
