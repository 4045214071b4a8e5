"""Fixtures of the dashboard tests: a temporary store, runs folder, data folder and studies folder
(set in the environment, so jobs started by the app inherit them), and no job left running."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time

import pytest

from morec_core.processes import host_label
from morec_core.store import Store
from morec_tui.jobs import JobQueue
from tests.synthetic import write_chain_dataset
from tests.tui.fill import STUDY_MODULE, fill_store, write_jobs


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Job start times are shown in local time; snapshots need one time zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="session")
def data_root(tmp_path_factory):
    """One data root for the session: the jobs' tiny dataset is prepared once, then reused."""
    return tmp_path_factory.mktemp("data_root")


@pytest.fixture(scope="session")
def chains(data_root):
    return write_chain_dataset(data_root / "raw" / "chains")


@pytest.fixture
def places(tmp_path, monkeypatch, data_root):
    studies = tmp_path / "studies"
    studies.mkdir()
    (studies / "tables.py").write_text(STUDY_MODULE)
    values = {"store": tmp_path / "morec.db", "runs": tmp_path / "runs",
              "data": data_root, "studies": studies}
    monkeypatch.setenv("MOREC_STORE", str(values["store"]))
    monkeypatch.setenv("MOREC_RUNS_DIR", str(values["runs"]))
    monkeypatch.setenv("MOREC_DATA_DIR", str(values["data"]))
    monkeypatch.setenv("MOREC_STUDIES_DIR", str(studies))
    yield values
    # Jobs run in their own sessions and outlive the app: stop what a test left running.
    for job in JobQueue(values["runs"]).jobs():
        if job.active and job.runner_pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.runner_pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def filled_store(tmp_path_factory):
    """The fixed runs, recorded once; each test gets a copy."""
    path = tmp_path_factory.mktemp("filled") / "morec.db"
    with Store(path) as store:
        fill_store(store)
    return path


@pytest.fixture
def filled(places, filled_store):
    shutil.copyfile(filled_store, places["store"])
    write_jobs(places["runs"], host_label())
    return places
