import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from morec_core import events as ev
from morec_core.config import RunSpec
from morec_core.store import Store, StoreError
from morec_core.store.rows import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(store_url):
    with Store(store_url) as opened:
        yield opened


def start(store, run_id, study="s", seed=1, encoder="id"):
    spec = RunSpec().with_overrides([f"train.seed={seed}", f"encoder.name={encoder}"])
    store.record(ev.RunStarted(run_id=run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
                               selection_metric="ndcg@10", host=socket.gethostname(),
                               pid=os.getpid(), device="cpu", study=study, trial_number=0))


def test_synthetic_event_stream_reads_back_as_curves(store):
    start(store, "r1")
    valid = [0.10, 0.30, 0.25]
    for epoch, value in enumerate(valid):
        store.record(ev.EpochEnded(run_id="r1", epoch=epoch, loss=1.0 - 0.1 * epoch,
                                   learning_rates={"encoder": 1e-4, "rest": 1e-3}, seconds=2.0))
        store.record(ev.Evaluated(run_id="r1", epoch=epoch, split="valid",
                                  metrics={"hr@10": 2 * value, "ndcg@10": value}))
    store.record(ev.Evaluated(run_id="r1", epoch=1, split="test",
                              metrics={"hr@10": 0.5, "ndcg@10": 0.28}))
    store.record(ev.CostMeasured(run_id="r1", trainable_params=10, total_params=20,
                                 flops_per_sample=1e6, seconds_per_epoch=2.0,
                                 peak_memory_bytes=1 << 20))
    store.record(ev.RunFinished(run_id="r1", status="completed", best_epoch=1))

    curves = store.curves("r1")
    assert [p.value for p in curves[("train", "loss")]] == pytest.approx([1.0, 0.9, 0.8])
    assert [p.epoch for p in curves[("valid", "ndcg@10")]] == [0, 1, 2]
    assert [p.value for p in curves[("valid", "ndcg@10")]] == pytest.approx(valid)
    assert [p.value for p in curves[("train", "lr_encoder")]] == pytest.approx([1e-4] * 3)
    run = store.run("r1")
    assert run.status == "completed" and run.best_epoch == 1
    assert run.best_value == pytest.approx(0.30)
    assert run.trainable_params == 10 and run.peak_memory_bytes == 1 << 20
    assert store.metrics("r1", "test") == pytest.approx({"hr@10": 0.5, "ndcg@10": 0.28})
    assert run.spec["encoder"]["name"] == "id"


def test_best_run_is_chosen_on_validation_never_on_test(store):
    for run_id, valid, test in [("a", 0.2, 0.9), ("b", 0.3, 0.1)]:
        start(store, run_id)
        store.record(ev.Evaluated(run_id=run_id, epoch=0, split="valid", metrics={"ndcg@10": valid}))
        store.record(ev.Evaluated(run_id=run_id, epoch=0, split="test", metrics={"ndcg@10": test}))
    assert store.best_run("s").id == "b"
    assert store.best_run("other") is None


def test_re_recording_an_epoch_replaces_the_value(store):
    start(store, "r1")
    store.record(ev.Evaluated(run_id="r1", epoch=0, split="valid", metrics={"ndcg@10": 0.1}))
    store.record(ev.Evaluated(run_id="r1", epoch=0, split="valid", metrics={"ndcg@10": 0.2}))
    assert [p.value for p in store.curves("r1")[("valid", "ndcg@10")]] == [0.2]


def test_events_for_an_unknown_run_are_rejected(store):
    with pytest.raises(StoreError, match="unknown run"):
        store.record(ev.EpochEnded(run_id="nope", epoch=0, loss=1.0, learning_rates={},
                                   seconds=1.0))


def test_runs_filter_by_study_and_status(store):
    start(store, "a", study="s1")
    start(store, "b", study="s2")
    store.record(ev.RunFailed(run_id="b", error="ValueError: x"))
    assert [r.id for r in store.runs(study="s1")] == ["a"]
    assert [r.id for r in store.runs(statuses=["failed"])] == ["b"]
    assert store.run("b").error == "ValueError: x"
    assert {s.name for s in store.studies()} == {"s1", "s2"}


def test_four_processes_writing_at_once_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    Store(url).close()
    workers = [subprocess.Popen([sys.executable, "-m", "tests.store_worker", "write_many", url,
                                 f"run{i}", "500"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
               for i in range(4)]
    errors = [worker.communicate(timeout=240)[1] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), errors
    assert not any("locked" in error for error in errors)
    store = Store(url)
    for i in range(4):
        # 499 epochs x 3 train series (loss, seconds, lr_rest) each
        assert len(store.curves(f"run{i}")[("train", "loss")]) == 499
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM morec_metrics")).scalar() == 4 * 499 * 3


def test_a_run_killed_with_sigkill_is_reported_interrupted(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    worker = subprocess.Popen([sys.executable, "-m", "tests.store_worker", "hang", url, "victim"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert worker.stdout.readline().strip() == "started"
    store = Store(url)
    assert store.reap_dead_runs() == []
    assert store.run("victim").status == "running"
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    assert store.reap_dead_runs() == ["victim"]
    run = store.run("victim")
    assert run.status == "interrupted" and run.status_reason == "process gone"
    assert run.finished_at is not None


def test_a_run_on_another_host_is_interrupted_only_when_its_heartbeat_is_stale(store):
    store.record(ev.RunStarted(run_id="far", spec={}, spec_key="k", selection_metric="ndcg@10",
                               host="some-other-host", pid=1, device="cuda:0", time=1000.0))
    assert store.reap_dead_runs(stale_after_s=300, now=1200.0) == []
    store.record(ev.Heartbeat(run_id="far", time=1250.0))
    assert store.reap_dead_runs(stale_after_s=300, now=1500.0) == []
    assert store.reap_dead_runs(stale_after_s=300, now=1600.0) == ["far"]
    assert store.run("far").status == "interrupted"


def test_schema_version_is_recorded_and_a_newer_store_is_refused(tmp_path):
    path = tmp_path / "runs.db"
    assert Store(path).schema_version() == SCHEMA_VERSION
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE morec_schema SET version = :v"), {"v": SCHEMA_VERSION + 1})
    with pytest.raises(StoreError, match="newer morec"):
        Store(path)


def test_sqlite_pragmas_are_set(tmp_path):
    store = Store(tmp_path / "runs.db")
    with store._write_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_best_epoch_metrics_of_every_run_in_one_query(store):
    for run_id, study, best in [("a", "s", 1), ("b", "s", 0), ("c", "t", 0)]:
        start(store, run_id, study=study)
        for epoch in range(2):
            value = 0.5 if epoch == best else 0.1
            store.record(ev.Evaluated(run_id=run_id, epoch=epoch, split="valid",
                                      metrics={"ndcg@10": value}))
            store.record(ev.Evaluated(run_id=run_id, epoch=epoch, split="test",
                                      metrics={"ndcg@10": value + epoch, "hr@10": 0.9}))
    start(store, "no-eval")
    found = store.best_epoch_metrics("test")
    assert found == {run_id: store.metrics(run_id, "test") for run_id in ("a", "b", "c")}
    assert found["a"] == pytest.approx({"ndcg@10": 1.5, "hr@10": 0.9})
    assert set(store.best_epoch_metrics("test", study="s")) == {"a", "b"}
    assert store.best_epoch_metrics("valid", study="t") == {"c": {"ndcg@10": 0.5}}


def test_run_versions_change_with_every_recorded_change(store):
    seen = [store.run_versions()]

    def changed():
        seen.append(store.run_versions())
        return {run_id for run_id, version in seen[-1].items() if seen[-2].get(run_id) != version}

    start(store, "r1")
    assert changed() == {"r1"}
    assert changed() == set()  # nothing recorded: the same values
    store.record(ev.EpochEnded(run_id="r1", epoch=0, loss=1.0, learning_rates={}, seconds=1.0))
    assert changed() == {"r1"}
    # Stamped by a clock that is behind: the heartbeat stays, the best value moves.
    store.record(ev.Evaluated(run_id="r1", epoch=0, split="valid", metrics={"ndcg@10": 0.1},
                              time=0.0))
    assert changed() == {"r1"}
    store.record(ev.RunFinished(run_id="r1", status="completed", time=0.0))
    assert changed() == {"r1"}
    start(store, "r2")
    assert changed() == {"r2"}
    assert store.reap_dead_runs(stale_after_s=-1) == ["r2"]
    assert changed() == {"r2"}
