"""Workers end with the `morec tune` that started them: a SIGKILLed parent leaves no worker
training on beside the next one's workers (PR_SET_PDEATHSIG)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from morec_core.processes import PARENT_ENV, pid_alive

ROOT = Path(__file__).resolve().parents[1]
PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", CHILD],
                         env={**os.environ, "MOREC_PARENT_PID": str(os.getpid())})
print(child.pid, flush=True)
time.sleep(600)
"""
CHILD = """
import signal, time
from morec_core.processes import end_with_parent
print("ready" if end_with_parent(signal.SIGTERM) else "unsupported", flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_worker_ends_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", f"CHILD = {CHILD!r}\n{PARENT}"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        child = int(parent.stdout.readline())
        time.sleep(1.0)  # the child has made its request
        assert pid_alive(child)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 15
        while pid_alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pid_alive(child), "the worker outlived its killed parent"
    finally:
        parent.kill()
        parent.wait()


def test_local_workers_know_their_parent(tmp_path, monkeypatch):
    """Each local worker is told its parent's pid: it ends with it, and leaves Ctrl-C to it
    (which stops each worker once)."""
    from morec_core import study_launch
    from morec_core.study.study_request import StudyRequest

    started = []

    class Recorded:
        returncode = 0

        def __init__(self, argv, **options):
            started.append(options)

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(study_launch.subprocess, "Popen", Recorded)
    problems = study_launch.run_local_workers(StudyRequest(study="demo"), "sqlite:///x.db",
                                              [None, None], tmp_path, echo=lambda line: None)
    assert problems == [] and len(started) == 2
    assert all(options["env"][PARENT_ENV] == str(os.getpid()) for options in started)


def test_without_a_recorded_parent_nothing_is_asked():
    env = {key: value for key, value in os.environ.items() if key != PARENT_ENV}
    result = subprocess.run([sys.executable, "-c", "import signal; from morec_core.processes "
                             "import end_with_parent; print(end_with_parent(signal.SIGTERM))"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_a_worker_with_a_parent_leaves_ctrl_c_to_it():
    """SIGINT to a local worker (the terminal's Ctrl-C reaches the whole group) does not stop
    it in the middle of a claim; its parent's SIGTERM does."""
    code = ("import signal, time\n"
            "from morec_core.processes import end_with_parent\n"
            "if end_with_parent(signal.SIGTERM):\n"
            "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "print('ready', flush=True)\n"
            "time.sleep(600)\n")
    worker = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT),
                                              PARENT_ENV: str(os.getpid())})
    try:
        assert worker.stdout.readline().strip() == "ready"
        worker.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert worker.poll() is None
        worker.terminate()
        assert worker.wait(timeout=30) == -signal.SIGTERM
    finally:
        worker.kill()
        worker.wait()
