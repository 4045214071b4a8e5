"""Presets: `morec run --preset paper --print-spec` and studies under a preset."""

import json

import pytest
from typer.testing import CliRunner

from morec_core.config import ConfigError, RunSpec
from morec_core.presets import PRESETS, find_preset
from morec_core.study.studies import Arm, Study
from morec_tui.cli import app


def test_print_spec_shows_the_paper_preset_and_runs_nothing(tmp_path):
    store = tmp_path / "runs.db"
    result = CliRunner().invoke(app, ["run", "--preset", "paper", "--print-spec",
                                      "--set", "train.lr=5e-4", "--store", str(store)])
    assert result.exit_code == 0, result.output
    spec = RunSpec.from_dict(json.loads(result.stdout))
    assert spec.backbone.block == "paper" and spec.train.loss == "bce"
    assert spec.eval.selection_metric == "hr@10" and spec.train.patience == 7
    assert spec.train.weight_decay == 0.1  # the first value of the preset's grid
    assert spec.train.lr == 5e-4  # --set comes after the preset
    assert "backbone.block=paper" in result.stderr
    assert not store.exists()


def test_an_unknown_preset_is_one_line_naming_the_known_ones():
    result = CliRunner().invoke(app, ["run", "--preset", "papr", "--print-spec"])
    assert result.exit_code != 0
    assert "unknown preset 'papr'" in result.output and "paper" in result.output
    assert "Traceback" not in result.output


def small_study(**extra) -> Study:
    return Study(name="tiny", description="t", overrides=("train.patience=5",),
                 arms=(Arm(name="IDRec", grid={"train.lr": (1e-3, 1e-4)}),
                       Arm(name="Other", overrides=("train.loss=softmax",))), **extra)


def test_a_study_preset_wins_over_the_studys_settings_and_searches_its_grid():
    plain, paper = small_study(), small_study().with_preset("paper")
    assert paper.name == "tiny_paper" and paper.preset == "paper"
    assert len(plain.points()) == 3  # 2 learning rates + 1
    assert len(paper.points()) == 3 * 3  # each arm x the weight-decay grid
    for point in paper.points():
        assert point.spec.backbone.block == "paper"
        assert point.spec.train.patience == 7 and point.spec.train.loss == "bce"
        assert point.spec.train.weight_decay == point.params["train.weight_decay"]
    assert {point.spec.spec_key for point in paper.points()}.isdisjoint(
        point.spec.spec_key for point in plain.points())


def test_a_preset_that_breaks_an_arm_fails_naming_the_arm():
    """The recbole preset's full softmax cannot train an end-to-end encoder."""
    study = Study(name="e2e", description="t", arms=(Arm(name="Text E2E", overrides=(
        "encoder.name=text", "encoder.model=minilm-l6")),))
    with pytest.raises(ConfigError, match="Text E2E.*full_softmax"):
        study.with_preset("recbole")
    with pytest.raises(ConfigError, match="unknown preset"):
        small_study(preset="nope")


def test_every_preset_makes_a_valid_run():
    for name in PRESETS:
        RunSpec().with_overrides(list(find_preset(name).run_overrides()))
