"""Liveness and identity of processes: zombies are dead, a pid names a process only together
with its start time and command line."""

import os
import signal
import subprocess
import sys
import time

import pytest

from morec_core.processes import (
    interrupt_once,
    pid_alive,
    process_arguments,
    process_matches,
    process_start_time,
)

SLEEP = "import time; time.sleep(60)"


@pytest.fixture
def sleeper():
    """A live process whose command line holds the tokens `morec_tui.jobs` and `12`."""
    process = subprocess.Popen([sys.executable, "-c", SLEEP, "morec_tui.jobs", "12"])
    yield process
    process.kill()
    process.wait()


def zombie() -> subprocess.Popen[bytes]:
    """A child that has exited and is not reaped yet."""
    process = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while _stat_state(process.pid) != "Z":
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.01)
    return process


def _stat_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0]


def test_a_live_process_is_alive_and_zombies_and_reaped_ones_are_not():
    assert pid_alive(os.getpid())
    dead = zombie()
    assert not pid_alive(dead.pid) and process_arguments(dead.pid) == ()
    dead.wait()
    assert not pid_alive(dead.pid) and process_start_time(dead.pid) is None
    # 0 and -1 address groups of processes: os.kill(0, 0) would succeed.
    assert not pid_alive(0) and not pid_alive(-1) and process_start_time(-1) is None


def test_the_start_time_is_stable_and_a_later_process_starts_no_earlier(sleeper):
    started = process_start_time(sleeper.pid)
    assert isinstance(started, int) and started == process_start_time(sleeper.pid)
    assert process_start_time(os.getpid()) <= started


def test_a_process_matches_its_start_time_and_whole_arguments_only(sleeper):
    started = process_start_time(sleeper.pid)
    assert process_arguments(sleeper.pid) == (sys.executable, "-c", SLEEP, "morec_tui.jobs", "12")
    assert process_matches(sleeper.pid, started, ("morec_tui.jobs", "12"))
    assert not process_matches(sleeper.pid, started, ("morec_tui.jobs", "1"))  # not "12"
    assert not process_matches(sleeper.pid, started + 1, ("morec_tui.jobs",))  # a reused pid
    assert not process_matches(sleeper.pid, None, ())  # nothing recorded: nothing matches
    sleeper.kill()
    sleeper.wait()
    assert not process_matches(sleeper.pid, started, ())


def test_processes_needs_no_heavy_import():
    code = ("import sys, morec_core.processes; "
            "print(sorted({'torch', 'sqlalchemy'} & set(sys.modules)))")
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True)
    assert found.stdout.strip() == "[]"


def test_the_first_stop_signal_interrupts_and_a_second_one_is_ignored():
    """A tune worker stopped with `kill -- -PGID` gets SIGTERM twice (its group's and its
    parent's forward); the second must not interrupt the first's clean-up."""
    previous = signal.signal(signal.SIGTERM, interrupt_once)
    previous_usr2 = signal.signal(signal.SIGUSR2, interrupt_once)
    try:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs between bytecodes; it never gets this far
        # During the clean-up: were it raised again, it would end this test with an error.
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
        # Slurm's SIGUSR2 before a time limit, then its SIGTERM: one interrupt in all.
        assert signal.getsignal(signal.SIGUSR2) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGUSR2, previous_usr2)
