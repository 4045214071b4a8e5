"""The one reader of recorded specs: legacy upgrades, and the labels derived from a spec."""

import json

import pytest

from morec_core.config import ConfigError, RunSpec
from morec_core.run.run_status import (
    ACTIVE_STATUSES,
    ENDED_STATUSES,
    FINAL_STATUSES,
    RESUMABLE_STATUSES,
    RUN_STATUSES,
    TRAINED_STATUSES,
)
from morec_core.spec_labels import (
    LEGACY_TIE_RULE,
    arm_identity,
    data_key,
    encoder_label,
    paradigm,
    protocol_fields,
    read_spec,
    read_spec_json,
    setting_text,
)


def test_a_spec_recorded_before_eval_ties_reads_with_the_rule_it_ran_under():
    recorded = RunSpec().to_dict()
    del recorded["eval"]["ties"]
    assert read_spec(recorded).eval.ties == LEGACY_TIE_RULE
    assert read_spec({}).eval.ties == LEGACY_TIE_RULE
    # A spec that names its rule keeps it.
    assert read_spec(RunSpec().to_dict()).eval.ties == "expected"
    assert protocol_fields(read_spec(recorded)) == {"k": "10", "history": "masked",
                                                    "ties": LEGACY_TIE_RULE}


def test_settings_missing_from_an_old_spec_take_their_defaults_in_every_label():
    full = RunSpec().with_overrides(["encoder.name=text", "encoder.model=minilm-l6"])
    old = full.to_dict()
    for name in ("split", "dedupe", "items_file"):  # added after the first runs were recorded
        del old["data"][name]
    assert data_key(read_spec(old)) == data_key(full)
    assert arm_identity(read_spec(old)) == arm_identity(full)


def test_an_unknown_setting_is_an_error_not_a_silent_default():
    with pytest.raises(ConfigError, match="nonsense"):
        read_spec({"train": {"nonsense": 1}})


def test_read_spec_json_reads_each_text_once_and_does_not_touch_the_callers_dict():
    text = RunSpec().to_json()
    assert read_spec_json(text) is read_spec_json(text)
    raw = json.loads(text)
    del raw["eval"]["ties"]
    read_spec(raw)
    assert "ties" not in raw["eval"]


@pytest.mark.parametrize(("overrides", "label"), [
    ([], "id"),
    (["encoder.name=text", "encoder.model=minilm-l6"], "text:minilm-l6"),
    (["encoder.name=vision", "encoder.mode=two_stage", "encoder.mlp_layers=2"], "vision/TS-DNN2"),
    (["encoder.name=text", "encoder.mode=two_stage"], "text/TS"),
    (["encoder.name=text", "encoder.fusion=concat"], "id+text/concat"),
])
def test_encoder_label(overrides, label):
    assert encoder_label(RunSpec().with_overrides(overrides)) == label


def test_paradigm_and_settings_as_compare_shows_them():
    spec = RunSpec().with_overrides(["encoder.name=text", "encoder.adapter=lora",
                                     "encoder.lora_targets=query,value"])
    assert paradigm(spec) == "MoRec" and paradigm(RunSpec()) == "IDRec"
    assert setting_text(spec, "encoder.lora_targets") == "['query', 'value']"
    assert setting_text(spec, "train.lr") == "0.001"
    assert setting_text(spec, "train.no_such_key") == ""
    assert setting_text(spec, "nosection.lr") == ""


def test_status_sets_split_the_vocabulary():
    assert set(RUN_STATUSES) == ACTIVE_STATUSES | FINAL_STATUSES | RESUMABLE_STATUSES
    assert not ACTIVE_STATUSES & FINAL_STATUSES and not FINAL_STATUSES & RESUMABLE_STATUSES
    assert FINAL_STATUSES == {"completed", "pruned", "collapsed", "failed"}
    assert ENDED_STATUSES == set(RUN_STATUSES) - ACTIVE_STATUSES
    assert TRAINED_STATUSES == {"completed", "pruned", "collapsed"}
