"""Liveness across pid namespaces: two workers with one hostname in different containers (host
networking) must not judge each other by pid. A record from another namespace carries that
namespace in its host label, and is judged by its heartbeat, as another host's is."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from morec_core.processes import host_label
from morec_core.store import Store, run_process_alive
from morec_core.store.store import HEARTBEAT_STALE_SECONDS
from morec_core.study import tune

ROOT = Path(__file__).resolve().parents[1]


def _label_in_a_new_pid_namespace() -> str:
    if shutil.which("unshare") is None:
        pytest.skip("util-linux's unshare is not installed (apt-get install util-linux)")
    result = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c",
         "import os; from morec_core.processes import host_label; "
         "print(os.getpid(), host_label())"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0 and "Operation not permitted" in result.stderr:
        pytest.skip("creating a pid namespace needs root or user namespaces (unshare: "
                    "Operation not permitted)")
    assert result.returncode == 0, result.stderr
    pid, label = result.stdout.strip().split(" ", 1)
    assert pid == "1"  # the namespace's first process sees itself as pid 1
    return label


def test_a_process_in_another_pid_namespace_has_another_host_label():
    label = _label_in_a_new_pid_namespace()
    assert label != host_label() and "pid namespace" in label


@pytest.mark.parametrize("beat_age_s", [5.0, HEARTBEAT_STALE_SECONDS + 60])
def test_a_claim_from_another_namespace_is_judged_by_its_heartbeat(beat_age_s):
    """pid 1 is alive in every namespace: a dead container's worker recorded as pid 1 was
    never recovered, and a live one whose pid is unused here was taken for dead."""
    label = _label_in_a_new_pid_namespace()
    now = time.time()
    for pid in (1, 2**22):  # alive here (init), and no process here
        attrs = {tune.WORKER_ATTR: {"host": label, "pid": pid, "claimed_at": now - 3600},
                 tune.RUN_ATTR: "r" * 32, tune.HEARTBEAT_ATTR: now - beat_age_s}
        assert tune._worker_alive(attrs) is (beat_age_s < HEARTBEAT_STALE_SECONDS)


def test_a_run_of_another_namespace_is_neither_reaped_by_pid_nor_kept_alive_by_it(tmp_path):
    from morec_core.run import events as ev

    label = _label_in_a_new_pid_namespace()
    store = Store(tmp_path / "runs.db")
    store.record(ev.RunStarted(run_id="n" * 32, spec={}, spec_key="k", selection_metric="ndcg@10",
                               host=label, pid=2**22, device="cpu", time=time.time()))
    assert store.reap_dead_runs() == []  # its pid is nobody here; its heartbeat is fresh
    record = store.run("n" * 32)
    assert run_process_alive(record)
    stale = dataclasses.replace(record, pid=1,
                                heartbeat_at=time.time() - HEARTBEAT_STALE_SECONDS - 60)
    assert not run_process_alive(stale)  # pid 1 is alive here, but not that run's process
    assert os.getpid() != 1
