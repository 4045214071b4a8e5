"""Issue 27: a PostgreSQL restart no longer ends every worker. The store's calls and Optuna's
are retried with backoff for a bounded time (morec_core.store.retry).

The server's outage is played by a TCP proxy between morec and the CI's PostgreSQL: `cut()`
drops every open connection and refuses new ones (as a restarting server does), `restore()`
accepts again, so the real driver, pool and server go through a real disconnect without
restarting the server the rest of the suite shares."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from morec_core.run import events as ev
from morec_core.store import Store
from morec_core.store.retry import (
    RETRY_ENV,
    StoreUnreachableError,
    is_disconnect,
    retry_bound_s,
    retrying,
)
from tests.conftest import NO_POSTGRES, POSTGRES_URL, empty_postgres


class OutageProxy:
    """127.0.0.1:<port> forwarding to the server; cut() plays the server going away."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        if listener is not None:
            # shutdown first: a close alone leaves the thread blocked in accept() accepting.
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()  # new connections are refused
        for sock in sockets:  # open ones are reset
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def url(self, base: str) -> str:
        return make_url(base).set(host="127.0.0.1", port=self.port).render_as_string(
            hide_password=False)


def outage(proxy: OutageProxy, seconds: float) -> threading.Thread:
    """Cut now, restore after `seconds`, in the background."""
    proxy.cut()
    restorer = threading.Timer(seconds, proxy.restore)
    restorer.start()
    return restorer


@pytest.fixture
def proxied_postgres():
    """(proxy, URL through it) to the CI's PostgreSQL database, emptied for the test."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    empty_postgres()
    parsed = make_url(POSTGRES_URL)
    proxy = OutageProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    yield proxy, proxy.url(POSTGRES_URL)
    proxy.cut()


def _started(store: Store, run_id: str) -> None:
    store.create_run(run_id, {"train": {"epochs": 2}}, "key", status="starting")
    store.record(ev.RunStarted(run_id=run_id, spec={"train": {"epochs": 2}}, spec_key="key",
                               selection_metric="hr@10", host="h", pid=1, device="cpu"))


# --- the rule, without a server --------------------------------------------------------------

def test_only_a_lost_connection_is_retried_and_for_a_bounded_time(monkeypatch, capsys):
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert is_disconnect(lost)
    # Optuna wraps the driver's error: the cause is read.
    try:
        try:
            raise lost
        except OperationalError as error:
            raise RuntimeError("An exception is raised during the commit.") from error
    except RuntimeError as wrapped:
        assert is_disconnect(wrapped)
    assert not is_disconnect(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_disconnect(ValueError("x"))

    calls: list[float] = []
    waits: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise lost
        return "done"

    assert retrying(flaky, where="db", what="testing", bound_s=60, sleep=waits.append) == "done"
    assert waits == [0.5, 1.0, 2.0]  # doubling
    assert capsys.readouterr().err.count("store db: connection lost while testing") == 3

    # A statement's own error is raised at once, never waited on.
    def broken() -> None:
        raise IntegrityError("INSERT", {}, Exception("duplicate key"))

    with pytest.raises(IntegrityError):
        retrying(broken, where="db", what="testing", bound_s=60, sleep=waits.append)

    # The bound: the waits stop before it, and the error is one line naming the store.
    clock = [0.0]
    monkeypatch.setattr("morec_core.store.retry.time.monotonic", lambda: clock[0])

    def down() -> None:
        raise lost

    def advance(seconds: float) -> None:
        clock[0] += seconds

    with pytest.raises(StoreUnreachableError, match=r"store db unreachable for \d+ s while "
                       r"testing \(server closed the connection\); gave up after "
                       rf"{RETRY_ENV}=5 s"):
        retrying(down, where="db", what="testing", bound_s=5, sleep=advance)
    assert clock[0] <= 5

    monkeypatch.setenv(RETRY_ENV, "30")
    assert retry_bound_s() == 30
    monkeypatch.setenv(RETRY_ENV, "soon")
    with pytest.raises(StoreUnreachableError, match=f"{RETRY_ENV}='soon' is not a number"):
        retry_bound_s()


def test_a_sqlite_store_is_not_retried(tmp_path, monkeypatch):
    """SQLite has no server to wait for: its errors come at once (its lock waits are
    busy_timeout's)."""
    store = Store(tmp_path / "m.db")
    called = []
    monkeypatch.setattr("morec_core.store.retry.retrying",
                        lambda *args, **kwargs: called.append(1))
    _started(store, "r1")
    assert called == [] and store.run("r1").status == "running"


# --- a real server going away ----------------------------------------------------------------

def test_the_store_rides_out_an_outage_of_the_server(proxied_postgres, capsys):
    proxy, url = proxied_postgres
    store = Store(url)
    _started(store, "r1")
    restorer = outage(proxy, 3.0)
    began = time.monotonic()
    # Written while the server is away: it waits, then lands once.
    store.record(ev.EpochEnded(run_id="r1", epoch=0, loss=0.5, seconds=1.0,
                               learning_rates={"default": 1e-3}))
    assert time.monotonic() - began >= 2.5
    restorer.join()
    assert store.metrics("r1", "train", 0)["loss"] == 0.5
    assert store.run("r1").last_epoch == 0
    assert "connection lost while record" in capsys.readouterr().err
    # Reads after a second outage too.
    outage(proxy, 1.5).join()
    assert store.run("r1").status == "running"
    store.close()


def test_a_server_away_longer_than_the_bound_is_one_line(proxied_postgres, monkeypatch):
    proxy, url = proxied_postgres
    store = Store(url)
    _started(store, "r1")
    monkeypatch.setenv(RETRY_ENV, "2")
    proxy.cut()
    began = time.monotonic()
    with pytest.raises(StoreUnreachableError) as raised:
        store.heartbeat("r1")
    assert time.monotonic() - began < 10
    message = str(raised.value)
    assert "\n" not in message and "gave up after" in message and "127.0.0.1" in message
    assert "password" not in message
    store.close()


def test_optuna_storage_and_the_trials_lock_ride_out_an_outage(proxied_postgres):
    import optuna

    from morec_core.study.tune.storage import optuna_storage

    proxy, url = proxied_postgres
    store = Store(url)
    storage = optuna_storage(url, store)
    study = optuna.create_study(study_name="s:A", storage=storage, load_if_exists=True)
    study.enqueue_trial({"x": 1.0})
    restorer = outage(proxy, 2.5)
    # The claim path: the lock, then Optuna's reads and writes, all while the server is away.
    with store.lock("trials s"):
        trial = study.ask()
        trial.suggest_float("x", 0.0, 2.0)
        study.tell(trial, 1.0)
    restorer.join()
    finished = study.get_trials(deepcopy=False)
    assert [(t.params, t.value) for t in finished] == [({"x": 1.0}, 1.0)]
    # The lock is free again (a new session takes it at once).
    with store.lock("trials s"):
        pass
    store.close()


STUDY_MODULE = """
from morec_core.study.studies import Arm, Study

STUDY = Study(
    name="outage",
    description="two IDRec points on chain data, the server away mid-run",
    overrides=("data.source=pairs", "data.path={data}", "backbone.embed_dim=8",
               "train.batch_size=64", "train.epochs=2", "eval.batch_size=256"),
    arms=(Arm(name="IDRec", overrides=("encoder.name=id",), grid={{"train.lr": (1e-2, 1e-3)}}),),
)
"""


@pytest.mark.slow
def test_a_study_worker_finishes_every_trial_across_a_server_outage(proxied_postgres, tmp_path,
                                                                     monkeypatch):
    """The issue's case: a PostgreSQL restart during a study ended every worker. Here the
    server goes away at the first trial's first epoch and comes back 3 s later: the worker
    finishes both trials, each once."""
    from morec_core.study.studies import find_study
    from morec_core.study.tune import enqueue_grid, optuna_storage, work
    from tests.synthetic import write_chain_dataset

    proxy, url = proxied_postgres
    data = write_chain_dataset(tmp_path / "chains", users=60, items=25)
    module = tmp_path / "outage.py"
    module.write_text(STUDY_MODULE.format(data=data))
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data_root"))
    study = find_study(str(module))
    store = Store(url)
    enqueue_grid(study, optuna_storage(url, store), store)
    restorers: list[threading.Thread] = []

    def server_goes_away(event: ev.Event) -> None:
        if isinstance(event, ev.EpochEnded) and not restorers:
            restorers.append(outage(proxy, 3.0))

    ran = work(study, url, url, tmp_path / "runs", trial_sinks=lambda point: [server_goes_away])
    assert restorers, "the outage never happened"
    restorers[0].join()
    assert ran == 2
    runs = store.runs(study="outage")
    assert sorted(run.status for run in runs) == ["completed", "completed"]
    assert all(run.last_epoch == 1 for run in runs)
    store.close()
