"""The study door: one request, resolved in one order, one encoding on a worker's command line."""

import pytest

from morec_core.config import ConfigError
from morec_core.study_launch import StudyError, StudyRequest, prepare, worker_argv
from morec_tui.jobs import study_argv


def test_a_request_round_trips_through_its_command_line():
    request = StudyRequest(study="demo", preset="paper", name="mine",
                           overrides=("train.epochs=2", "backbone.embed_dim=8"), seeds=3,
                           compile_networks=True, processes_per_trial=2)
    assert StudyRequest.from_argv(request.to_argv()) == request
    plain = StudyRequest(study="studies/demo.py")
    assert StudyRequest.from_argv(plain.to_argv()) == plain
    argv = worker_argv(plain, "sqlite:///x.db")
    assert argv[1:3] == ["-m", "morec_core.study_launch"]
    assert StudyRequest.from_argv(argv[3:]) == plain


def test_settings_need_a_name_of_their_own():
    with pytest.raises(ConfigError, match="--name"):
        StudyRequest(study="demo", overrides=("train.epochs=2",))


def test_resolve_applies_preset_then_name_and_settings_then_seeds():
    definition = StudyRequest(study="demo", preset="paper", name="mine",
                              overrides=("train.epochs=2",), seeds=2).resolve()
    assert definition.name == "mine" and len(definition.seed_values) == 2
    spec = definition.points()[0].spec
    assert spec.train.epochs == 2  # the request's setting over the preset's
    assert spec.train.patience == 7  # the paper preset's


def test_prepare_queues_nothing_when_the_preflight_fails(tmp_path):
    module = tmp_path / "nodata.py"
    module.write_text(
        "from morec_core.studies import Arm, Study\n"
        "STUDY = Study(name='nodata', description='', overrides=('data.source=pairs', "
        f"'data.path={tmp_path / 'nowhere'}'), arms=(Arm(name='IDRec', grid={{}}),))\n")
    store = tmp_path / "runs" / "morec.db"
    with pytest.raises(StudyError, match="is missing"):
        prepare(StudyRequest(study=str(module)), f"sqlite:///{store}")
    assert not store.exists()


def test_prepare_queues_the_grid_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'morec.db'}"
    first = prepare(StudyRequest(study="demo"), url)
    again = prepare(StudyRequest(study="demo"), url)
    assert first.added == first.grid_points > 0 and again.added == 0
    assert f"({first.added} newly queued)" in first.line()


def test_the_dashboards_study_job_writes_the_request_as_tune_reads_it():
    argv = study_argv("demo", "sqlite:///x.db", compile_networks=True)
    assert argv[3] == "tune"
    assert StudyRequest.from_argv(argv[4:]) == StudyRequest(study="demo", compile_networks=True)


def test_a_plain_study_job_keeps_its_command_line():
    assert study_argv("demo", "u")[3:] == ["tune", "--study", "demo", "--storage", "u"]
