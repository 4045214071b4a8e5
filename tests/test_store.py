import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from morec_core.config import RunSpec
from morec_core.processes import host_label
from morec_core.run import events as ev
from morec_core.run.collapse import CollapseDetector
from morec_core.run.runner import drive
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
                               selection_metric="ndcg@10", host=host_label(),
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


NAN, INF = float("nan"), float("inf")


def test_non_finite_values_are_stored_and_read_back(store):
    start(store, "r1")
    store.record(ev.EpochEnded(run_id="r1", epoch=0, loss=NAN, seconds=INF,
                               learning_rates={"rest": -INF}))
    for epoch, value in enumerate([NAN, 0.2, INF]):
        store.record(ev.Evaluated(run_id="r1", epoch=epoch, split="valid",
                                  metrics={"ndcg@10": value, "hr@10": 0.4}))
    store.record(ev.Evaluated(run_id="r1", epoch=1, split="test",
                              metrics={"ndcg@10": NAN, "hr@10": 0.3}))
    store.record(ev.CostMeasured(run_id="r1", trainable_params=1, total_params=2,
                                 seconds_per_epoch=NAN, flops_per_sample=INF))
    store.record(ev.RunFinished(run_id="r1", status="collapsed", reason="training loss is nan"))

    curves = store.curves("r1")
    assert math.isnan(curves[("train", "loss")][0].value)
    assert curves[("train", "seconds")][0].value == INF
    assert curves[("train", "lr_rest")][0].value == -INF
    valid = [point.value for point in curves[("valid", "ndcg@10")]]
    assert math.isnan(valid[0]) and valid[1:] == [0.2, INF]
    run = store.run("r1")
    assert run.best_epoch == 1 and run.best_value == 0.2  # neither NaN nor infinity is a best
    assert run.seconds_per_epoch is None and run.flops_per_sample is None
    assert run.status == "collapsed" and run.status_reason == "training loss is nan"
    for test in (store.metrics("r1", "test"), store.best_epoch_metrics("test")["r1"]):
        assert math.isnan(test["ndcg@10"]) and test["hr@10"] == 0.3


@pytest.mark.parametrize("detector_first", [False, True])
def test_a_nan_loss_ends_the_run_collapsed_whichever_sink_sees_it_first(store, detector_first):
    def events():
        yield ev.RunStarted(run_id="r1", spec={}, spec_key="k", selection_metric="ndcg@10",
                            host=host_label(), pid=os.getpid(), device="cpu",
                            num_items=2000)
        yield ev.EpochEnded(run_id="r1", epoch=0, loss=0.7, seconds=1.0, learning_rates={})
        yield ev.Evaluated(run_id="r1", epoch=0, split="valid", metrics={"ndcg@10": 0.1})
        yield ev.EpochEnded(run_id="r1", epoch=1, loss=NAN, seconds=1.0, learning_rates={})
        raise AssertionError("the run goes on after a NaN loss")

    sinks = [store, CollapseDetector()]
    status = drive(events(), sinks[::-1] if detector_first else sinks, run_id="r1")
    run = store.run("r1")
    assert status == run.status == "collapsed"
    assert run.status_reason == "training loss is nan at epoch 2"


def downgrade_to_schema_2(url):
    """What a morec before schema 3 left: morec_metrics.value NOT NULL. On SQLite also a metric
    row of a run deleted with foreign keys off (the sqlite3 shell's default)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE morec_metrics ALTER COLUMN value SET NOT NULL"))
        else:
            ddl = conn.execute(text("SELECT sql FROM sqlite_master "
                                    "WHERE name = 'morec_metrics'")).scalar()
            conn.execute(text(ddl.replace("morec_metrics", "old_metrics", 1)
                              .replace("value FLOAT", "value FLOAT NOT NULL")))
            conn.execute(text("INSERT INTO old_metrics SELECT * FROM morec_metrics"))
            conn.execute(text("DROP TABLE morec_metrics"))
            conn.execute(text("ALTER TABLE old_metrics RENAME TO morec_metrics"))
            conn.execute(text("INSERT INTO morec_metrics (run_id, split, epoch, name, value) "
                              "VALUES ('deleted', 'valid', 0, 'ndcg@10', 0.5)"))
        conn.execute(text("UPDATE morec_schema SET version = 2"))
    with pytest.raises(IntegrityError, match="(?i)not.null"), engine.begin() as conn:
        conn.execute(text("INSERT INTO morec_metrics (run_id, split, epoch, name, value) "
                          "VALUES ('old', 'valid', 9, 'ndcg@10', NULL)"))
    engine.dispose()


def sqlite_table_shape(path, table):
    """Columns, indexes (with their columns) and foreign keys of one table."""
    with sqlite3.connect(path) as connection:
        indexes = connection.execute(f"PRAGMA index_list({table})").fetchall()
        return (connection.execute(f"PRAGMA table_info({table})").fetchall(),
                [(index, connection.execute(f"PRAGMA index_info({index[1]})").fetchall())
                 for index in indexes],
                connection.execute(f"PRAGMA foreign_key_list({table})").fetchall())


def test_a_schema_2_store_migrates_to_nullable_metric_values(store_url, tmp_path):
    with Store(store_url) as store:
        start(store, "old")
        store.record(ev.Evaluated(run_id="old", epoch=0, split="valid",
                                  metrics={"ndcg@10": 0.1}))
    downgrade_to_schema_2(store_url)
    with Store(store_url) as migrated:
        assert migrated.schema_version() == SCHEMA_VERSION == 4
        columns = inspect(migrated._write_engine).get_columns("morec_metrics")
        assert [column["nullable"] for column in columns if column["name"] == "value"] == [True]
        assert [p.value for p in migrated.curves("old")[("valid", "ndcg@10")]] == [0.1]
        assert migrated.run("old").best_value == 0.1
        migrated.record(ev.EpochEnded(run_id="old", epoch=0, loss=NAN, seconds=1.0,
                                      learning_rates={}))
        assert math.isnan(migrated.curves("old")[("train", "loss")][0].value)
        # Re-recording replaces: the unique constraint the upsert relies on is back.
        migrated.record(ev.Evaluated(run_id="old", epoch=0, split="valid",
                                     metrics={"ndcg@10": 0.3}))
        assert [p.value for p in migrated.curves("old")[("valid", "ndcg@10")]] == [0.3]
    if store_url.startswith("sqlite"):
        migrated_path = store_url.removeprefix("sqlite:///")
        Store(tmp_path / "fresh.db").close()
        assert (sqlite_table_shape(migrated_path, "morec_metrics")
                == sqlite_table_shape(tmp_path / "fresh.db", "morec_metrics"))
        with sqlite3.connect(migrated_path) as connection:
            assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
            assert connection.execute("SELECT count(*) FROM sqlite_master "
                                      "WHERE name LIKE '%metrics_new%'").fetchone() == (0,)


def test_a_schema_3_store_migrates_to_data_fingerprints(store_url):
    """Schema 4 adds morec_runs.data_fingerprint: a run recorded before keeps its results and
    has none (''); a run started after records the one its RunStarted carries."""
    with Store(store_url) as store:
        start(store, "old")
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE morec_runs DROP COLUMN data_fingerprint"))
        conn.execute(text("UPDATE morec_schema SET version = 3"))
    engine.dispose()
    with Store(store_url) as migrated:
        assert migrated.schema_version() == SCHEMA_VERSION == 4
        assert migrated.run("old").data_fingerprint == ""
        spec = RunSpec()
        migrated.record(ev.RunStarted(run_id="new", spec=spec.to_dict(), spec_key=spec.spec_key,
                                      selection_metric="ndcg@10", host="h", pid=1, device="cpu",
                                      data_fingerprint='{"digest": "abc"}'))
        assert migrated.run("new").data_fingerprint == '{"digest": "abc"}'
        # A resumed run's RunStarted carries it again: the same value stays.
        migrated.record(ev.RunStarted(run_id="new", spec=spec.to_dict(), spec_key=spec.spec_key,
                                      selection_metric="ndcg@10", host="h", pid=1, device="cpu"))
        assert migrated.run("new").data_fingerprint == '{"digest": "abc"}'


def test_a_file_that_is_not_a_database_is_a_store_error_naming_it(tmp_path):
    path = tmp_path / "runs.db"
    path.write_bytes(os.urandom(8192))
    for read_only in (False, True):
        with pytest.raises(StoreError) as raised:
            Store(path, read_only=read_only)
        message = str(raised.value)
        assert message.startswith(f"cannot open store {path}: file is not a database")
        assert "\n" not in message


def test_a_damaged_page_is_found_when_the_store_opens(tmp_path):
    path = tmp_path / "runs.db"
    with Store(path) as store:
        start(store, "r1")
        for epoch in range(200):
            store.record(ev.Evaluated(run_id="r1", epoch=epoch, split="valid",
                                      metrics={f"metric{i}": 0.1 for i in range(10)}))
    with sqlite3.connect(path) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    page = len(data) // page_size // 2 * page_size  # a page of morec_metrics, mid-file
    assert data[page] in (0x02, 0x05, 0x0A, 0x0D)  # a b-tree page: its type byte
    data[page:page + 8] = b"\xff" * 8  # its header
    path.write_bytes(bytes(data))
    with sqlite3.connect(path) as connection:  # opening alone does not read that page
        assert connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    for read_only in (False, True):
        with pytest.raises(StoreError) as raised:
            Store(path, read_only=read_only)
        message = str(raised.value)
        assert message.startswith(f"store {path} is damaged (SQLite quick_check: ")
        assert f"sqlite3 {path} .recover" in message and "\n" not in message


def test_a_store_folder_that_cannot_be_created_is_a_store_error(tmp_path):
    (tmp_path / "taken").write_text("a file where the folder should be")
    with pytest.raises(StoreError, match="^cannot create the folder of store .*taken/runs.db: "):
        Store(tmp_path / "taken" / "runs.db")


def test_an_unreachable_postgresql_server_is_a_store_error_within_seconds():
    started = time.monotonic()
    with pytest.raises(StoreError) as raised:
        Store("postgresql://morec:secret@127.0.0.1:1/morec")
    message = str(raised.value)
    assert message.startswith("cannot open store postgresql+psycopg://morec:***@127.0.0.1:1/morec")
    assert "secret" not in message and "\n" not in message
    assert time.monotonic() - started < 10


def test_a_postgresql_server_that_never_answers_times_out(monkeypatch):
    import morec_core.store.store as store_module

    monkeypatch.setattr(store_module, "POSTGRES_CONNECT_TIMEOUT_S", 1)
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(StoreError, match=f"^cannot open store .*:{port}/morec: "):
            Store(f"postgresql://morec@127.0.0.1:{port}/morec")
    assert time.monotonic() - started < 10  # without a timeout, libpq would wait for ever


def test_a_read_only_store_reads_and_never_writes(store_url):
    with Store(store_url) as store:
        start(store, "r1")
        store.record(ev.EpochEnded(run_id="r1", epoch=0, loss=NAN, seconds=1.0,
                                   learning_rates={}))
    with Store(store_url, read_only=True) as reader:
        assert [run.id for run in reader.runs()] == ["r1"]
        assert math.isnan(reader.curves("r1")[("train", "loss")][0].value)
        assert reader.schema_version() == SCHEMA_VERSION
        for write in (lambda: reader.record(ev.Heartbeat(run_id="r1")),
                      lambda: reader.record(ev.Progress(run_id="r1", epoch=0, step=1,
                                                        total_steps=2, loss=0.5)),
                      lambda: reader.ensure_study("new"), reader.reap_dead_runs,
                      lambda: reader.lock("x").__enter__()):
            with pytest.raises(StoreError, match="is open read-only"):
                write()
        # The connection refuses writes too, whatever a caller does with it.
        with pytest.raises(SQLAlchemyError, match="(?i)read.?only"), \
                reader._read_engine.begin() as conn:
            conn.execute(text("DELETE FROM morec_runs"))
    with Store(store_url) as store:
        assert [run.id for run in store.runs()] == ["r1"]


def test_read_only_refuses_a_store_it_cannot_read_as_it_is(tmp_path):
    with pytest.raises(StoreError, match=f"^store {tmp_path / 'none.db'} does not exist$"):
        Store(tmp_path / "none.db", read_only=True)
    (tmp_path / "empty.db").touch()
    with pytest.raises(StoreError, match="holds no morec schema"):
        Store(tmp_path / "empty.db", read_only=True)
    old = tmp_path / "old.db"
    Store(old).close()
    downgrade_to_schema_2(f"sqlite:///{old}")
    with pytest.raises(StoreError, match=f"^store {old} is at schema 2; open it once writable "
                                         "to migrate"):
        Store(old, read_only=True)
    with sqlite3.connect(old) as connection:  # nothing migrated
        assert connection.execute("SELECT version FROM morec_schema").fetchone()[0] == 2


# Runs the rest of the command line as a new Python process that file permissions bind: when
# the tests run as root, without the capabilities that override them (CAP_DAC_OVERRIDE and
# CAP_DAC_READ_SEARCH, dropped from the bounding set before exec).
WITHOUT_FILE_OVERRIDES = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
for capability in (1, 2):
    if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""

READ_AS_ANOTHER_USER = """
import json, sys
from morec_core.run import events as ev
from morec_core.store import Store, StoreError
path, found = sys.argv[1], {}
try:
    Store(path)
    found["writable"] = "opened"
except StoreError as error:
    found["writable"] = str(error)
reader = Store(path, read_only=True)
found["runs"] = [run.id for run in reader.runs()]
found["loss"] = repr(reader.curves("r1")[("train", "loss")][0].value)
if len(sys.argv) > 2:  # wait for the writer, then read again
    print(json.dumps(found), flush=True)
    sys.stdin.readline()
    found["runs"] = [run.id for run in reader.runs()]
print(json.dumps(found), flush=True)
"""


def as_reader_without_write_access(*arguments, **popen):
    prefix = ["-c", WITHOUT_FILE_OVERRIDES] if os.geteuid() == 0 else []
    return subprocess.Popen([sys.executable, *prefix, "-c", READ_AS_ANOTHER_USER, *arguments],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


@pytest.mark.parametrize("read_only", ["file", "folder", "file and folder"])
def test_a_store_this_user_cannot_write_is_refused_writable_and_read_read_only(tmp_path,
                                                                               read_only):
    folder = tmp_path / "shared"
    path = folder / "runs.db"
    with Store(path) as store:
        start(store, "r1")
        store.record(ev.EpochEnded(run_id="r1", epoch=0, loss=NAN, seconds=1.0,
                                   learning_rates={}))
    before = {file.name: (file.read_bytes(), file.stat().st_mtime_ns) for file in folder.iterdir()}
    if "file" in read_only:
        path.chmod(0o444)
    if "folder" in read_only:
        folder.chmod(0o555)
    try:
        reader = as_reader_without_write_access(str(path))
        output, errors = reader.communicate(timeout=120)
    finally:
        folder.chmod(0o755)
        path.chmod(0o644)
    assert reader.returncode == 0, errors
    found = json.loads(output)
    assert found["writable"].startswith(f"cannot open store {path}: attempt to write a "
                                        "readonly database: this user cannot write")
    assert found["runs"] == ["r1"] and found["loss"] == "nan"
    after = {file.name: (file.read_bytes(), file.stat().st_mtime_ns) for file in folder.iterdir()
             if file.name == "runs.db" or "folder" in read_only}
    assert after == {name: before[name] for name in after}  # the store itself never changed
    if "folder" in read_only:
        assert set(after) == {"runs.db"}  # and no -wal or -shm appeared beside it


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a writer allowed where the reader is not: "
                                              "root, with a reader that drops its overrides")
def test_a_reader_of_a_read_only_folder_sees_a_writer_that_opens_later(tmp_path):
    folder = tmp_path / "shared"
    with Store(folder / "runs.db") as store:
        start(store, "r1")
        store.record(ev.EpochEnded(run_id="r1", epoch=0, loss=0.5, seconds=1.0,
                                   learning_rates={}))
    folder.chmod(0o555)
    try:
        reader = as_reader_without_write_access(str(folder / "runs.db"), "wait",
                                                stdin=subprocess.PIPE)
        # No -shm to share: the reader reads the file as immutable.
        assert json.loads(reader.stdout.readline())["runs"] == ["r1"]
        writer = Store(folder / "runs.db")  # root may write the folder: -wal and -shm appear
        start(writer, "r2")
        output, errors = reader.communicate("go\n", timeout=120)
        writer.close()
    finally:
        folder.chmod(0o755)
    assert reader.returncode == 0, errors
    assert sorted(json.loads(output)["runs"]) == ["r1", "r2"]
