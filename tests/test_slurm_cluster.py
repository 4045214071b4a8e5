"""A real study on a real Slurm cluster (.ci/slurm.sh starts one on this machine) and the
PostgreSQL store of .ci/run: `morec tune --launcher slurm` submits worker jobs through submitit;
every grid point ends exactly once, through a job cancelled mid-trial (its run resumed from its
checkpoint under the same run id by the other job) and a job that outlives its time limit (it
checkpoints on SIGUSR2, is requeued, and finishes)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from morec_core.run.faults import MARKER_ENV, PAUSE_AT_ENV
from morec_core.store import Store
from morec_core.study.slurm_jobs import job_fields
from morec_core.study.studies import find_study
from morec_core.study.tune import (
    RESUME_ATTR,
    RUN_ATTR,
    STATUS_ATTR,
    WORKER_ATTR,
    arm_study_name,
    optuna_url_for,
)
from tests.conftest import empty_postgres
from tests.synthetic import write_chain_dataset

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("MOREC_TEST_POSTGRES_URL")
STATE = optuna.trial.TrialState

def _cluster_answers():
    """Whether a Slurm controller answers here (installed commands alone are not a cluster)."""
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = [
    pytest.mark.skipif(not POSTGRES_URL, reason="MOREC_TEST_POSTGRES_URL is not set (.ci/run "
                       "starts a PostgreSQL server on 127.0.0.1 and sets it)"),
    pytest.mark.skipif(not _cluster_answers(), reason="no Slurm cluster answers `sinfo` here "
                       "(.ci/slurm.sh starts a single-node one and sets SLURM_CONF)"),
]

STUDY_MODULE = '''
from morec_core.study.studies import Arm, Study

STUDY = Study(
    name="{name}",
    description="an IDRec grid on chain data, for the Slurm tests",
    overrides=("data.source=pairs", "data.path={data}", "backbone.embed_dim=8",
               "train.batch_size=64", "train.epochs={epochs}", "train.patience={patience}",
               "eval.batch_size=256"),
    arms=(Arm(name="IDRec", overrides=("encoder.name=id",),
              grid={{"train.lr": {lrs}, "train.weight_decay": (0.0, 0.1)}}),),
)
'''


@pytest.fixture
def cluster_study(tmp_path):
    empty_postgres()
    data = write_chain_dataset(tmp_path / "chains", users=300, items=50)
    env = dict(os.environ, MOREC_DATA_DIR=str(tmp_path / "data_root"),
               MOREC_RUNS_DIR=str(tmp_path / "runs"), PYTHONUNBUFFERED="1")

    def make(name, epochs, lrs, patience=10):
        module = tmp_path / f"{name}.py"
        module.write_text(STUDY_MODULE.format(name=name, data=data, epochs=epochs, lrs=lrs,
                                              patience=patience))
        return module

    return make, env


def _submit(module, env, *slurm):
    done = subprocess.run(
        [sys.executable, "-m", "morec_tui.cli", "tune", "--study", str(module), "--storage",
         POSTGRES_URL, "--launcher", "slurm", *[part for s in slurm for part in ("--slurm", s)]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stderr.splitlines() if line.startswith("submitted"))
    return line.split(": ")[1].split(";")[0].split(", ")


def _wait_for_jobs(job_ids, timeout_s, logs):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        states = {job: (job_fields(job) or {}).get("JobState") for job in job_ids}
        if all(state not in ("PENDING", "RUNNING", "COMPLETING", "REQUEUED", "CONFIGURING")
               for state in states.values()):
            return states
        time.sleep(1)
    raise AssertionError(f"jobs {job_ids} still at it: {states}\n{_logs(logs)}")


def _logs(runs_dir):
    return "\n".join(f"--- {path}\n{path.read_text()[-3000:]}"
                     for path in sorted((runs_dir / "slurm").glob("*/*_log.*")))


def _every_point_ended_once(module, points):
    """Each grid point has exactly one ended trial (COMPLETE, or PRUNED) and one run that
    ended so; returns the Optuna trials and the runs."""
    study = find_study(str(module))
    trials = optuna.load_study(study_name=arm_study_name(study, "IDRec"),
                               storage=optuna_url_for(POSTGRES_URL)).trials
    ended = [t for t in trials if t.state in (STATE.COMPLETE, STATE.PRUNED)]
    keys = [(t.params["train.lr"], t.params["train.weight_decay"]) for t in ended]
    assert len(ended) == points and len(set(keys)) == points, [
        (t.state, t.user_attrs.get(STATUS_ATTR)) for t in trials]
    runs = Store(POSTGRES_URL).runs(study=study.name)
    finished = [run for run in runs if run.status in ("completed", "pruned")]
    assert len(finished) == points == len({(r.spec["train"]["lr"], r.spec["train"]["weight_decay"])
                                           for r in finished})
    assert len(runs) == points, [(r.id, r.status) for r in runs]  # no point trained twice
    return trials, runs


def _paused_claim(marker, module, deadline, runs_dir):
    """The claim (worker attributes) of the trial whose process waits at the pause point."""
    while not marker.exists():
        assert time.monotonic() < deadline, _logs(runs_dir)
        time.sleep(0.2)
    pid = json.loads(marker.read_text())["pid"]
    study = find_study(str(module))
    trials = optuna.load_study(study_name=arm_study_name(study, "IDRec"),
                               storage=optuna_url_for(POSTGRES_URL)).trials
    return next(t.user_attrs for t in trials if t.state == STATE.RUNNING
                and t.user_attrs[WORKER_ATTR]["pid"] == pid)


def _resumed(trials, run_id):
    """The one ended trial that resumed run `run_id`."""
    (successor,) = [t for t in trials if t.user_attrs.get(RESUME_ATTR) == run_id
                    and t.state in (STATE.COMPLETE, STATE.PRUNED)]
    return successor


def test_a_job_cancelled_mid_trial_leaves_its_run_to_the_other_job_which_resumes_it(
        cluster_study, tmp_path):
    make, env = cluster_study
    module = make("slurm_cancel", epochs=3, lrs=(1e-2, 3e-2))
    marker = tmp_path / "paused.json"
    # The first trial to reach its 8th step (5 steps an epoch: in epoch 2) waits there, in one
    # of the jobs, until its job is cancelled.
    env = env | {PAUSE_AT_ENV: "mid-epoch:8", MARKER_ENV: str(marker)}
    job_ids = _submit(module, env, "jobs=2", "time_min=10")
    assert len(job_ids) == 2
    claim = _paused_claim(marker, module, time.monotonic() + 120, tmp_path / "runs")
    cancelled, victim = claim[WORKER_ATTR]["slurm_job"], claim[RUN_ATTR]
    done = subprocess.run([sys.executable, "-m", "morec_tui.cli", "cancel", cancelled],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    states = _wait_for_jobs(job_ids, 150, tmp_path / "runs")
    assert states[cancelled] == "CANCELLED"
    trials, runs = _every_point_ended_once(module, 4)
    # The cancelled job's trial: checkpointed at its step, failed as `interrupted`; the other
    # job resumed the same run from that checkpoint.
    stopped = [t for t in trials if t.user_attrs.get(RUN_ATTR) == victim and t.state == STATE.FAIL]
    assert [t.user_attrs[STATUS_ATTR] for t in stopped] == ["interrupted"]
    (other,) = set(job_ids) - {cancelled}
    assert _resumed(trials, victim).user_attrs[WORKER_ATTR]["slurm_job"] == other
    assert Store(POSTGRES_URL).run(victim).status in ("completed", "pruned")
    # Resumed from the checkpoint written mid-epoch 2: epoch 1 trained once, in the first job.
    assert _epochs_logged(tmp_path / "runs", cancelled, victim) == [1]
    assert _epochs_logged(tmp_path / "runs", other, victim) == [2, 3]


def test_a_job_past_its_time_limit_checkpoints_is_requeued_and_finishes(cluster_study, tmp_path):
    make, env = cluster_study
    module = make("slurm_timeout", epochs=3, lrs=(1e-2,))
    marker = tmp_path / "paused.json"
    env = env | {PAUSE_AT_ENV: "mid-epoch:8", MARKER_ENV: str(marker)}
    (job,) = _submit(module, env, "jobs=1", "time_min=5", "signal_delay_s=40")
    deadline = time.monotonic() + 150
    victim = _paused_claim(marker, module, deadline, tmp_path / "runs")[RUN_ATTR]
    # The job's limit brought to 41 s from now, within submitit's 40 s warning: at its next
    # time-limit check (every 30 s at most) Slurm sends SIGUSR2, the trial checkpoints, and
    # submitit requeues the job.
    _set_time_limit(job, _seconds(job_fields(job)["RunTime"]) + 41)
    while int((job_fields(job) or {}).get("Restarts", "0")) < 1:
        assert time.monotonic() < deadline, _logs(tmp_path / "runs")
        time.sleep(0.2)
    _set_time_limit(job, 5 * 60)  # the requeued job's run: 5 minutes again
    states = _wait_for_jobs([job], 150, tmp_path / "runs")
    assert states[job] == "COMPLETED", _logs(tmp_path / "runs")
    trials, runs = _every_point_ended_once(module, 2)
    folder = tmp_path / "runs" / "slurm" / job
    log = (folder / f"{job}_0_log.out").read_text()
    assert "stopped by SIGUSR2" in log and "(restart 1)" in log
    # Epoch 1 before the requeue, then on from the checkpoint written mid-epoch 2.
    assert _epochs_logged(tmp_path / "runs", job, victim) == [1, 2, 3]
    assert log.count(f"run {victim[:8]} (IDRec seed 42): epoch 1/3") == 1
    assert "this job is timed-out" in (folder / f"{job}_0_log.err").read_text()
    stopped = [t for t in trials if t.user_attrs.get(RUN_ATTR) == victim and t.state == STATE.FAIL]
    assert [t.user_attrs[STATUS_ATTR] for t in stopped] == ["interrupted"]
    assert _resumed(trials, victim).user_attrs[WORKER_ATTR]["slurm_restarts"] == 1


def _epochs_logged(runs_dir, job, run_id):
    """The epochs (from 1) that the job's log says it trained of run `run_id`."""
    log = (runs_dir / "slurm" / job / f"{job}_0_log.out").read_text()
    return [int(line.split(": epoch ")[1].split("/")[0]) for line in log.splitlines()
            if line.startswith(f"run {run_id[:8]} ")]


def _seconds(clock):
    """Slurm's [days-]hours:minutes:seconds (or minutes:seconds) as seconds."""
    days, _, clock = clock.rpartition("-")
    parts = [int(part) for part in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    return int(days or 0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]


def _set_time_limit(job, seconds):
    subprocess.run(["scontrol", "update", f"JobId={job}",
                    f"TimeLimit={seconds // 60}:{seconds % 60:02d}"], check=True, timeout=30)
