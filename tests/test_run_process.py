"""The one command line of a run process: the engine's entry, never the shell."""

import subprocess
import sys
from pathlib import Path

from morec_core.config import RunSpec
from morec_core.launch import LaunchError, queue_run, resume_spec
from morec_core.run.run_process import ENTRY, run_process_argv, torchrun_argv
from morec_core.store import Store

ROOT = Path(__file__).resolve().parents[1]


def test_the_engine_never_names_the_shell():
    found = subprocess.run(["grep", "-rln", "--include=*.py", "morec_tui", str(ROOT / "morec_core")],
                           capture_output=True, text=True, check=False)
    assert found.stdout == ""


def test_every_process_argv_starts_the_engine_entry():
    from morec_tui.jobs import run_argv

    argv = run_process_argv("abc", "sqlite:///x.db", processes=2, stop_on_collapse=False)
    assert argv == [sys.executable, "-m", ENTRY, "abc", "--storage", "sqlite:///x.db",
                    "--nproc-per-node", "2", "--quiet", "--no-stop-on-collapse"]
    assert run_argv("abc", "sqlite:///x.db") == run_process_argv("abc", "sqlite:///x.db")
    assert torchrun_argv(2, run_process_argv("abc", "u"))[1:7] == [
        "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", ENTRY]


def test_resume_refuses_a_run_whose_process_is_alive(tmp_path):
    import os

    store = Store(f"sqlite:///{tmp_path / 'runs.db'}")
    run_id = queue_run(store, RunSpec(), study="s")
    spec, study = resume_spec(store, run_id)
    assert spec == RunSpec() and study == "s"
    store.create_run(run_id, RunSpec().to_dict(), RunSpec().spec_key, status="starting")
    assert store.run(run_id).pid == os.getpid()
    try:
        resume_spec(store, run_id)
    except LaunchError as error:
        assert "still being trained" in str(error)
    else:
        raise AssertionError("a live run was resumed")
    assert resume_spec(store, run_id, check_alive=False)[1] == "s"


def test_the_run_process_says_why_it_cannot_start(tmp_path):
    done = subprocess.run(
        run_process_argv("nosuchrun", f"sqlite:///{tmp_path / 'runs.db'}"),
        capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.splitlines()) == 1
