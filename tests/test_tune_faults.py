"""Kill `morec tune` workers (SIGKILL) at chosen points, restart, and check that every grid point
ran exactly once with the results of an unbroken study.

The points are `morec_core.run.faults.pause_point` calls: with MOREC_TEST_PAUSE_AT set, the first
process to reach the point writes a marker file and sleeps until the test kills it.
"""

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import optuna
import pytest

from morec_core.processes import alive_since, host_label, pid_alive
from morec_core.run import events as ev
from morec_core.run.faults import MARKER_ENV, PAUSE_AT_ENV
from morec_core.store import Store, run_process_alive
from morec_core.study.studies import find_study
from morec_core.study.tune import (
    arm_study_name,
    claim_next,
    enqueue_grid,
    optuna_storage,
    optuna_url_for,
    recover_dead_trials,
    work,
)
from tests.conftest import empty_postgres
from tests.synthetic import write_chain_dataset

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("MOREC_TEST_POSTGRES_URL")
STATE = optuna.trial.TrialState

STUDY_MODULE = '''
from morec_core.study.studies import Arm, Study

STUDY = Study(
    name="faults",
    description="a 4-point IDRec grid on chain data, for kill tests",
    overrides=("data.source=pairs", "data.path={data}", "backbone.embed_dim=8",
               "train.batch_size=64", "train.epochs=3", "eval.batch_size=256"),
    arms=(Arm(name="IDRec", overrides=("encoder.name=id",),
              grid={{"train.lr": {lrs}, "train.weight_decay": (0.0, 0.1)}}),),
)
'''
LRS = (1e-2, 1e-3)


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    # 80 users in batches of 64: two training steps an epoch, so "mid-epoch:3" is after the
    # first step of the second epoch.
    return write_chain_dataset(tmp_path_factory.mktemp("chains"), users=80, items=30)


def _module(folder, chains, lrs=LRS):
    module = folder / f"faults_{len(lrs)}.py"
    module.write_text(STUDY_MODULE.format(data=chains, lrs=lrs))
    return module


def _point(run):
    return run.spec["train"]["lr"], run.spec["train"]["weight_decay"]


def _results(store, run):
    return run.best_epoch, run.best_value, store.metrics(run.id, "test")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, chains):
    """The unbroken study's results by grid point, run in this process."""
    folder = tmp_path_factory.mktemp("reference")
    module = _module(folder, chains)
    store_url = f"sqlite:///{folder / 'runs' / 'morec.db'}"
    study = find_study(str(module))
    store = Store(store_url)
    previous = os.environ.get("MOREC_DATA_DIR")
    os.environ["MOREC_DATA_DIR"] = str(folder / "data_root")
    try:
        enqueue_grid(study, optuna_storage(optuna_url_for(store_url), store), store)
        assert work(study, store_url, optuna_url_for(store_url), folder / "runs") == 4
    finally:
        if previous is None:
            del os.environ["MOREC_DATA_DIR"]
        else:
            os.environ["MOREC_DATA_DIR"] = previous
    return {_point(run): _results(store, run) for run in store.runs(study="faults")}


class Tune:
    """`morec tune` runs of one study in one store, killed and restarted by the tests."""

    def __init__(self, folder: Path, module: Path, store_url: str) -> None:
        self.folder, self.module, self.store_url = folder, module, store_url
        self.marker = folder / "paused.json"
        self.env = dict(os.environ, MOREC_DATA_DIR=str(folder / "data_root"),
                        MOREC_RUNS_DIR=str(folder / "runs"), PYTHONUNBUFFERED="1")
        self.outputs: list[str] = []
        self.kills = 0
        self.snapshots: list[dict] = []
        """What the store held at each kill: none of it may be lost or trained again."""

    def start(self, *extra: str, pause_at: str | None = None) -> subprocess.Popen:
        env = dict(self.env)
        if pause_at is not None:
            self.marker.unlink(missing_ok=True)
            env |= {PAUSE_AT_ENV: pause_at, MARKER_ENV: str(self.marker)}
        command = [sys.executable, "-m", "morec_tui.cli", "tune", "--study", str(self.module),
                   "--storage", self.store_url, *extra]
        # Its own process group: SIGKILL takes the command and its workers down at once.
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def wait_for_pause(self, process: subprocess.Popen, timeout_s: float = 180) -> dict:
        deadline = time.monotonic() + timeout_s
        while not self.marker.exists():
            if process.poll() is not None:
                pytest.fail(f"exited before pausing:\n{process.communicate()[0]}")
            assert time.monotonic() < deadline, "no process reached the pause point"
            time.sleep(0.05)
        return json.loads(self.marker.read_text())

    def kill_group(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        self.outputs.append(process.communicate(timeout=60)[0])
        self.kills += 1
        _wait_until_group_gone(process.pid)
        self.snapshots.append(_snapshot(self.store_url))

    def finish(self, *extra: str) -> str:
        process = self.start(*extra)
        output = process.communicate(timeout=300)[0]
        self.outputs.append(output)
        assert process.returncode == 0, output
        return output

    def tracebacks(self) -> int:
        logs = [log.read_text() for log in (self.folder / "runs" / "logs").glob("*.log")]
        return sum(text.count("Traceback") for text in [*self.outputs, *logs])


def _wait_until_group_gone(group: int, timeout_s: float = 30) -> None:
    """Until no process of the group is left but zombies (killed workers whose parent, killed
    too, cannot reap them): a restart must not find them alive."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(_in_group(int(entry.name), group) and pid_alive(int(entry.name))
                   for entry in Path("/proc").iterdir() if entry.name.isdigit()):
            return
        time.sleep(0.05)
    pytest.fail(f"processes of group {group} outlived SIGKILL")


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except ProcessLookupError:
        return False


def _snapshot(store_url):
    """What the store holds: per run, its status, finish time and every recorded value (but
    timings, which differ when an epoch is trained again)."""
    store = Store(store_url)
    return {run.id: (run.status, run.finished_at,
                     {(split, name, point.epoch): point.value
                      for (split, name), points in store.curves(run.id).items()
                      if name != "seconds" for point in points})
            for run in store.runs(study="faults")}


def _figures(tune: Tune, reference: dict) -> dict:
    """lost: values recorded before a kill that changed or vanished; twice: grid points with
    more than one run or COMPLETE trial, or runs completed before a kill and trained again;
    missing: points without a completed run; stranded: trials left WAITING or RUNNING;
    different: points whose results differ from the unbroken study's."""
    store = Store(tune.store_url)
    after = _snapshot(tune.store_url)
    runs = store.runs(study="faults")
    by_point = defaultdict(list)
    for run in runs:
        by_point[_point(run)].append(run)
    study = find_study(str(tune.module))
    trials = optuna.load_study(study_name=arm_study_name(study, "IDRec"),
                               storage=optuna_url_for(tune.store_url)).get_trials()
    complete = defaultdict(int)
    for trial in trials:
        if trial.state == STATE.COMPLETE:
            complete[(trial.params["train.lr"], trial.params["train.weight_decay"])] += 1
    lost = sum(1 for before in tune.snapshots for run_id, (_, _, values) in before.items()
               for key, value in values.items()
               if run_id not in after or after[run_id][2].get(key) != value)
    retrained = {run_id for before in tune.snapshots
                 for run_id, (status, finished, _) in before.items()
                 if status == "completed"
                 and after.get(run_id, (None, None))[:2] != (status, finished)}
    completed = {point: [run for run in found if run.status == "completed"]
                 for point, found in by_point.items()}
    return {
        "kills": tune.kills,
        "lost": lost,
        "twice": len(retrained) + sum(1 for found in by_point.values() if len(found) > 1)
        + sum(1 for count in complete.values() if count > 1),
        "missing": sum(1 for point in reference
                       if not completed.get(point) or complete[point] == 0),
        "stranded": sum(1 for trial in trials if trial.state in (STATE.WAITING, STATE.RUNNING)),
        "different": sum(1 for point, results in reference.items()
                         if not completed.get(point)
                         or _results(store, completed[point][0]) != results),
        "tracebacks": tune.tracebacks(),
    }


def _assert_clean(tune: Tune, reference: dict) -> None:
    figures = _figures(tune, reference)
    print(f"figures: {figures}")
    assert figures == {"kills": figures["kills"], "lost": 0, "twice": 0, "missing": 0,
                       "stranded": 0, "different": 0, "tracebacks": 0}, "\n".join(tune.outputs)


def _tune(tmp_path, chains, store_url=None, lrs=LRS):
    store_url = store_url or f"sqlite:///{tmp_path / 'runs' / 'morec.db'}"
    return Tune(tmp_path, _module(tmp_path, chains, lrs), store_url)


# Each case: the pause points of successive `morec tune --workers 2` runs, every one killed
# (SIGKILL to the command and both workers) once a worker pauses; then a run to the end. A kill
# during validation is the next test's, where only the paused worker dies.
KILLS = {
    "start": ["enqueue:2"],  # the command itself, half of the grid queued, no worker yet
    "claim": ["claim:2"],  # a second trial claimed, its worker and run id not yet recorded
    "trial-start": ["trial-start:2"],  # claimed with its run id, no event yet
    "mid-epoch": ["mid-epoch:3"],
    "checkpoint-write": ["checkpoint-write:3"],
    "before-tell": ["before-tell:1"],  # the run completed and recorded, Optuna not told
    "twice, the second in recovery": ["mid-epoch:3", "requeue:1"],
}


@pytest.mark.slow
@pytest.mark.parametrize("points", KILLS.values(), ids=KILLS.keys())
def test_killed_workers_and_a_restart_run_every_point_once(points, tmp_path, chains, reference):
    tune = _tune(tmp_path, chains)
    for point in points:
        process = tune.start("--workers", "2", pause_at=point)
        try:
            tune.wait_for_pause(process)
        finally:
            tune.kill_group(process)
    output = tune.finish("--workers", "2")
    assert "done" in output
    _assert_clean(tune, reference)


@pytest.mark.slow
def test_a_worker_killed_mid_trial_is_replaced_by_the_other_at_once(tmp_path, chains, reference):
    """Only one worker dies, during a validation: the other, out of work, re-queues the dead
    one's trial and resumes it, without a restart; the command says that a worker was killed."""
    tune = _tune(tmp_path, chains)
    process = tune.start("--workers", "2", pause_at="validation:2")
    try:
        paused = tune.wait_for_pause(process)
        tune.snapshots.append(_snapshot(tune.store_url))
        os.kill(paused["pid"], signal.SIGKILL)
        tune.kills += 1
        output = process.communicate(timeout=300)[0]
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone already, unless the test failed
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 1 and "killed by signal 9" in output, output
    tune.outputs.append(output)
    _assert_clean(tune, reference)
    tune.finish()  # and a restart finds nothing to do
    assert len(Store(tune.store_url).runs(study="faults")) == 4


@pytest.mark.slow
def test_a_sigterm_to_the_whole_group_stops_the_study_in_order(tmp_path, chains, reference):
    """What `kill -- -PGID` (a script's stop, a batch system's) sends: the command and both
    workers get SIGTERM, and each worker a second one, forwarded by the command. The command
    says it was interrupted, each worker that it stopped, no log holds a traceback (a second
    signal raised inside the exit handlers printed one), nothing stays running, and a restart
    runs every point once."""
    tune = _tune(tmp_path, chains)
    process = tune.start("--workers", "2", pause_at="mid-epoch:3")
    try:
        tune.wait_for_pause(process)
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=120)[0]
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone already, unless the test failed
            os.killpg(process.pid, signal.SIGKILL)
    tune.outputs.append(output)
    assert process.returncode == 130 and "interrupted" in output, output
    _wait_until_group_gone(process.pid)
    logs = [log.read_text() for log in (tmp_path / "runs" / "logs").glob("*.log")]
    assert sum("worker stopped by a signal" in text for text in logs) == 2, logs
    assert not [run.id for run in Store(tune.store_url).runs(study="faults")
                if run.status == "running"]
    tune.snapshots.append(_snapshot(tune.store_url))
    tune.finish("--workers", "2")
    _assert_clean(tune, reference)


@pytest.mark.slow
@pytest.mark.skipif(not POSTGRES_URL, reason="MOREC_TEST_POSTGRES_URL is not set")
def test_a_kill_mid_epoch_on_postgresql(tmp_path, chains, reference):
    empty_postgres()
    tune = _tune(tmp_path, chains, store_url=POSTGRES_URL)
    process = tune.start("--workers", "2", pause_at="mid-epoch:3")
    try:
        tune.wait_for_pause(process)
    finally:
        tune.kill_group(process)
    tune.finish("--workers", "2")
    _assert_clean(tune, reference)


@pytest.mark.slow
def test_a_grid_grown_in_place_runs_only_its_new_points(tmp_path, chains, reference):
    """A learning rate added to a study that ran: two workers run the two new points only."""
    tune = _tune(tmp_path, chains, lrs=(1e-2,))
    tune.finish()
    tune.snapshots.append(_snapshot(tune.store_url))  # neither lost nor trained again below
    assert len(tune.snapshots[0]) == 2
    tune.module.write_text(tune.module.read_text().replace("(0.01,)", "(0.01, 0.001)"))
    output = tune.finish("--workers", "2")
    assert "(2 newly queued)" in output, output
    _assert_clean(tune, reference)


def test_a_trial_whose_worker_died_while_claiming_is_queued_again_at_once(tmp_path, chains):
    """Killed between the claim and the worker's record (RUNNING, no worker, no run id): the
    next recovery, which holds the lock claims hold, re-queues it without waiting."""
    module = _module(tmp_path, chains)
    store_url = f"sqlite:///{tmp_path / 'morec.db'}"
    study = find_study(str(module))
    store = Store(store_url)
    storage = optuna_storage(optuna_url_for(store_url), store)
    enqueue_grid(study, storage, store)
    optuna_study = optuna.load_study(study_name=arm_study_name(study, "IDRec"), storage=storage)
    first = optuna_study.get_trials(states=(STATE.WAITING,))[0]
    study_id = storage.get_study_id_from_name(optuna_study.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, first.number)
    assert storage.set_trial_state_values(trial_id, STATE.RUNNING)  # the half-done claim

    assert recover_dead_trials(study, storage, store) == [first.number]
    assert recover_dead_trials(study, storage, store) == []  # settled once
    trials = optuna_study.get_trials()
    assert trials[first.number].state == STATE.FAIL
    same = [t for t in trials if t.user_attrs["morec_point"] == first.user_attrs["morec_point"]]
    assert [t.state for t in same] == [STATE.FAIL, STATE.WAITING]
    # A live claim is left alone, and its run id is recorded with it.
    claimed = claim_next(study, storage, store)
    assert claimed.trial.user_attrs["morec_run_id"] == claimed.run_id
    assert recover_dead_trials(study, storage, store) == []


def test_a_trial_whose_run_completed_before_the_tell_is_told_not_trained(tmp_path, chains):
    module = _module(tmp_path, chains)
    store_url = f"sqlite:///{tmp_path / 'morec.db'}"
    study = find_study(str(module))
    store = Store(store_url)
    storage = optuna_storage(optuna_url_for(store_url), store)
    enqueue_grid(study, storage, store)
    claimed = claim_next(study, storage, store)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    worker = dict(claimed.worker, pid=int(dead.stdout))  # as if a worker that died claimed it
    storage.set_trial_user_attr(claimed.trial_id, "morec_worker", worker)
    _record_completed_run(store, claimed.run_id, best_value=0.25)

    assert recover_dead_trials(study, storage, store) == [claimed.trial.number]
    trials = optuna.load_study(study_name=arm_study_name(study, "IDRec"),
                               storage=storage).get_trials()
    assert trials[claimed.trial.number].state == STATE.COMPLETE
    assert trials[claimed.trial.number].value == 0.25
    assert len(trials) == 4  # nothing re-queued


def _record_completed_run(store, run_id, best_value):
    store.record(ev.RunStarted(run_id=run_id, spec={"train": {"seed": 42}}, spec_key="k",
                               selection_metric="ndcg@10", host="h", pid=1, device="cpu",
                               study="faults"))
    store.record(ev.Evaluated(run_id=run_id, epoch=0, split="valid",
                              metrics={"ndcg@10": best_value}))
    store.record(ev.RunFinished(run_id=run_id, status="completed", best_epoch=0))


def test_process_alive_tells_a_reused_pid_from_the_process_that_claimed(tmp_path):
    now = time.time()
    assert alive_since(os.getpid(), now)
    # This process started before `now`; a claim recorded an hour before it started was not
    # this process's, whatever the pid says.
    started = now - time.monotonic() - 3600  # before boot: before any process
    assert not alive_since(os.getpid(), started)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    assert not alive_since(int(finished.stdout), now)


def test_resume_refuses_a_run_whose_process_is_alive(tmp_path, monkeypatch):

    from typer.testing import CliRunner

    from morec_tui.cli import app

    store_url = f"sqlite:///{tmp_path / 'morec.db'}"
    store = Store(store_url)
    here = host_label()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        store.record(ev.RunStarted(run_id="alive", spec={}, spec_key="k", selection_metric="m",
                                   host=here, pid=sleeper.pid, device="cpu"))
        result = CliRunner().invoke(app, ["run", "--resume", "alive", "--storage", store_url])
        assert result.exit_code == 2, result.output
        error = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert error == [f"error: run alive is still being trained (pid {sleeper.pid}); stop "
                         "that process first"], result.output
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not run_process_alive(store.run("alive"))  # its process gone: resumable
    # Another host: a fresh heartbeat says alive, a stale one does not.
    store.record(ev.RunStarted(run_id="remote", spec={}, spec_key="k", selection_metric="m",
                               host="elsewhere", pid=1, device="cpu"))
    remote = store.run("remote")
    assert run_process_alive(remote)
    assert not run_process_alive(remote, now=remote.heartbeat_at + 3600)


def _nan_run(spec, context):
    """A run whose first epoch ends with a NaN loss (stands in for train.iter_run)."""
    yield ev.RunStarted(run_id=context.run_id, spec=spec.to_dict(), spec_key=spec.spec_key,
                        selection_metric=spec.eval.selection_metric, host="h", pid=os.getpid(),
                        device="cpu", study=context.study, num_items=30)
    yield ev.EpochEnded(run_id=context.run_id, epoch=0, loss=float("nan"), learning_rates={},
                        seconds=0.1)
    pytest.fail("the run went on after a NaN loss")


def test_a_nan_loss_stops_a_trial_after_the_store_records_its_epoch(tmp_path, chains,
                                                                    monkeypatch):
    from morec_core.study.tune import run_trial

    monkeypatch.setattr("morec_core.run.train.iter_run", _nan_run)
    store_url = f"sqlite:///{tmp_path / 'morec.db'}"
    study = find_study(str(_module(tmp_path, chains)))
    store = Store(store_url)
    storage = optuna_storage(optuna_url_for(store_url), store)
    enqueue_grid(study, storage, store)
    claimed = claim_next(study, storage, store)
    assert run_trial(claimed, storage, store, tmp_path / "runs") == "collapsed"
    run = store.run(claimed.run_id)
    assert run.status == "collapsed" and "nan" in run.status_reason
    # The epoch it collapsed at is recorded (issue 27), its loss NaN, and nothing after it.
    [loss] = store.curves(run.id)[("train", "loss")]
    assert math.isnan(loss.value)
    assert storage.get_trial(claimed.trial_id).state == STATE.FAIL


def test_a_nan_loss_stops_morec_run_after_the_store_records_its_epoch(tmp_path, chains,
                                                                      monkeypatch):
    from typer.testing import CliRunner

    from morec_tui.cli import app

    monkeypatch.setattr("morec_core.run.train.iter_run", _nan_run)
    monkeypatch.setenv("MOREC_RUNS_DIR", str(tmp_path / "runs"))
    store_url = f"sqlite:///{tmp_path / 'morec.db'}"
    result = CliRunner().invoke(app, ["run", "--dataset", "pairs", "--path", str(chains),
                                      "--storage", store_url, "--quiet"])
    assert result.exit_code == 1, result.output
    [run] = Store(store_url).runs()
    assert run.status == "collapsed"
    [loss] = Store(store_url).curves(run.id)[("train", "loss")]
    assert math.isnan(loss.value)


def test_a_pause_point_passes_unless_named_and_reached_first(tmp_path, monkeypatch):
    from collections import Counter

    from morec_core.run import faults

    monkeypatch.setattr(faults, "_hits", Counter())
    faults.pause_point("mid-epoch")  # unset: passes
    marker = tmp_path / "paused.json"
    monkeypatch.setenv(MARKER_ENV, str(marker))
    monkeypatch.setenv(PAUSE_AT_ENV, "mid-epoch:3")
    faults.pause_point("validation")  # another point
    faults.pause_point("mid-epoch")
    faults.pause_point("mid-epoch")  # the 2nd of 3
    assert not marker.exists()
    marker.write_text("{}")  # another process paused there first: this one passes
    faults.pause_point("mid-epoch")
    assert marker.read_text() == "{}" and list(tmp_path.iterdir()) == [marker]
