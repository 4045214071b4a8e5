"""A study trial on two DDP ranks (slurm.gpus_per_trial > 1; gloo on the CPU here): run once,
recorded once, and stopped by a scheduler's signal without leaving anything running."""

import os
import signal

import optuna
import pytest

from morec_core.run import preemption
from morec_core.run.distributed_trial import run_distributed
from morec_core.store import Store
from morec_core.study.studies import Arm, Study
from morec_core.study.tune import enqueue_grid, optuna_storage, optuna_url_for, work
from tests.synthetic import write_chain_dataset


@pytest.fixture
def places(tmp_path, monkeypatch):
    data = write_chain_dataset(tmp_path / "chains", users=120, items=50)
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data_root"))
    monkeypatch.setenv("MOREC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    study = Study(name="ddp", description="d", arms=(Arm(name="IDRec", overrides=(
        "data.source=pairs", f"data.path={data}", "backbone.embed_dim=16", "train.epochs=2",
        "train.batch_size=16")),))
    return study, f"sqlite:///{tmp_path / 'runs.db'}", tmp_path / "runs"


@pytest.mark.slow
def test_a_trial_on_two_ranks_runs_once_and_is_told_to_optuna(places):
    study, store_url, runs_dir = places
    store = Store(store_url)
    storage = optuna_storage(optuna_url_for(store_url), store)
    enqueue_grid(study, storage, store)
    assert work(study, store_url, optuna_url_for(store_url), runs_dir,
                processes_per_trial=2) == 1
    runs = Store(store_url).runs(study="ddp")
    assert [(run.arm, run.status) for run in runs] == [("IDRec", "completed")]
    trials = optuna.load_study(study_name=storage.get_all_studies()[0].study_name,
                               storage=storage).trials
    assert [trial.state for trial in trials] == [optuna.trial.TrialState.COMPLETE]
    assert [point.epoch for point in Store(store_url).curves(runs[0].id)[("train", "loss")]] \
        == [0, 1]


@pytest.mark.slow
def test_a_stop_request_ends_the_ranks_and_leaves_the_run_resumable(places):
    study, store_url, runs_dir = places
    store = Store(store_url)
    # Long enough that the ranks are still training when the stop comes, however loaded.
    spec = study.points()[0].spec.with_overrides(["train.epochs=200", "train.patience=200"])
    asked = []

    def heartbeat():
        # Once the ranks train, the scheduler asks this worker to stop.
        if store.run("r1").status == "running" and not asked:
            asked.append(True)
            preemption._record(signal.SIGTERM, None)

    preemption.clear()
    try:
        with pytest.raises(preemption.Preempted):
            run_distributed(spec, run_id="r1", resume=False, study="ddp", arm="IDRec",
                            store=store, runs_dir=runs_dir, processes=2, heartbeat=heartbeat,
                            poll_s=0.2)
    finally:
        preemption.clear()
    assert asked
    store.reap_dead_runs(stale_after_s=0)
    record = store.run("r1")
    assert record.status in ("cancelled", "interrupted"), record.status
    assert record.pid is None or not _alive(record.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
