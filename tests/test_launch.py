"""The engine's front door: a run's row exists before its process runs it, and every way a run
can end early (a data error, a cancel while loading, a dead process) leaves a row that says so."""

import subprocess
import sys
from pathlib import Path

import pytest

from morec_core.config import ConfigError
from morec_core.launch import RunContext, execute, queue_run, spec_from_options
from morec_core.store import Store
from tests.synthetic import write_chain_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def chain_data(tmp_path, monkeypatch):
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data_root"))
    return write_chain_dataset(tmp_path / "chains", users=60, items=30)


def tiny(folder, *overrides):
    return spec_from_options(dataset="pairs", path=str(folder), overrides=(
        "backbone.embed_dim=8", "train.epochs=1", "eval.batch_size=64", *overrides))


def test_options_become_the_spec_and_a_bad_one_names_the_setting():
    spec = spec_from_options(dataset="pairs", path="x", encoder="text", model="minilm-l6",
                             backbone="dssm", overrides=("train.lr=5e-4",))
    assert (spec.data.source, spec.encoder.name, spec.backbone.name, spec.train.lr) == (
        "pairs", "text", "dssm", 5e-4)
    with pytest.raises(ConfigError, match="train.lrr"):
        spec_from_options(overrides=("train.lrr=1",))


def test_a_run_failing_while_its_data_loads_is_a_failed_run_with_its_reason(tmp_path):
    store = Store(tmp_path / "runs.db")
    spec = spec_from_options(dataset="pairs", path=str(tmp_path / "missing"))
    with pytest.raises(Exception, match="missing"):
        execute(spec, RunContext(run_id="r" * 32, run_dir=tmp_path / "r"), store)
    run = store.run("r" * 32)
    assert run.status == "failed" and "missing" in run.error
    # The one dataset label: folder, reader, view.
    assert run.spec_key == spec.spec_key and run.dataset == "missing (pairs, text)"


def test_a_run_cancelled_while_its_data_loads_is_cancelled_and_resumable(chain_data, tmp_path,
                                                                       monkeypatch):
    import morec_core.run.build as build

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build_run", interrupted)
    store = Store(tmp_path / "runs.db")
    spec = tiny(chain_data)
    run_id = queue_run(store, spec, study="s")
    assert store.run(run_id).status == "queued"
    with pytest.raises(KeyboardInterrupt):
        execute(spec, RunContext(run_id=run_id, run_dir=tmp_path / run_id), store)
    assert store.run(run_id).status == "cancelled"
    monkeypatch.undo()
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data_root"))
    status = execute(spec, RunContext(run_id=run_id, run_dir=tmp_path / run_id, resume=True),
                     store)
    assert status == "completed" and store.run(run_id).study == "s"


def test_a_queued_run_is_run_by_resume_and_a_dead_starting_one_is_interrupted(chain_data,
                                                                            tmp_path):
    store_path = tmp_path / "runs.db"
    store = Store(store_path)
    run_id = queue_run(store, tiny(chain_data), arm="IDRec")
    # A queued run has no process: the reaper leaves it to its job.
    assert store.reap_dead_runs() == [] and store.run(run_id).status == "queued"
    env = {"MOREC_DATA_DIR": str(tmp_path / "data_root"), "MOREC_RUNS_DIR": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "morec_tui.cli", "run", "--resume", run_id,
                           "--storage", str(store_path), "--quiet"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert store.run(run_id).status == "completed" and store.run(run_id).arm == "IDRec"

    # A process that died while loading data (its row `starting`, its pid gone).
    other = queue_run(store, tiny(chain_data))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.create_run(other, {}, "", status="starting")
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{store_path}")
    with engine.begin() as connection:
        connection.execute(text("UPDATE morec_runs SET pid = :pid WHERE id = :id"),
                           {"pid": dead.pid, "id": other})
    assert store.reap_dead_runs() == [other]
    assert store.run(other).status == "interrupted"


def test_a_queued_run_whose_job_ended_first_says_so(tmp_path):
    store = Store(tmp_path / "runs.db")
    run_id = queue_run(store, spec_from_options())
    assert store.end_queued_run(run_id, "cancelled", "cancelled while queued")
    run = store.run(run_id)
    assert run.status == "cancelled" and run.status_reason == "cancelled while queued"
    assert not store.end_queued_run(run_id, "failed", "too late")  # only a queued one


def test_the_collapse_rule_observes_when_asked_and_the_spec_key_ignores_it(chain_data, tmp_path):
    """train.stop_on_collapse=false trains on past the rule (to measure it on whole curves);
    the two runs are seeds of one configuration."""
    store = Store(tmp_path / "runs.db")
    # lr 100 blows the loss up within two epochs: the rule's "exploded" clause.
    stopped = tiny(chain_data, "train.lr=100", "train.epochs=3", "train.patience=5")
    observed = stopped.with_overrides(["train.stop_on_collapse=false"])
    assert observed.spec_key == stopped.spec_key
    assert execute(stopped, RunContext(run_id="a" * 32, run_dir=tmp_path / "a"), store) == (
        "collapsed")
    assert execute(observed, RunContext(run_id="b" * 32, run_dir=tmp_path / "b"), store) == (
        "completed")
    assert len(store.curves("b" * 32)[("valid", "ndcg@10")]) == 3
    # The epoch the run collapsed at is recorded before the run ends: its exploded loss.
    *before, exploded = store.curves("a" * 32)[("train", "loss")]
    assert exploded.value > 1_000 and exploded.epoch == len(before)
    assert f"exploded to {exploded.value:.3e}" in store.run("a" * 32).status_reason
