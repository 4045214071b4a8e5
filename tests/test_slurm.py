"""The Slurm launcher without a cluster: its settings, what it refuses, how a worker's Slurm
job is judged alive (a fake `scontrol` on PATH), and a run preempted mid-epoch, resumed with the
results of an unbroken run. The real cluster's tests are in test_slurm_cluster.py."""

import math
import os
import signal
import time

import pytest
from typer.testing import CliRunner

from morec_core.config import ConfigError, RunSpec
from morec_core.processes import host_label
from morec_core.run import checkpoint, preemption
from morec_core.run import events as ev
from morec_core.run.runner import drive
from morec_core.run.train import RunContext, iter_run
from morec_core.store import Store
from morec_core.study.slurm_config import SlurmSettings
from morec_core.study.slurm_jobs import SlurmError, cancel, slurm_identity, slurm_job_alive
from morec_core.study.tune import RUN_ATTR, WORKER_ATTR, _worker_alive
from morec_tui.cli import app
from tests.synthetic import write_chain_dataset


def test_settings_come_from_a_slurm_table_with_options_on_top(tmp_path):
    config = tmp_path / "cluster.toml"
    config.write_text('[slurm]\npartition = "gpu"\ntime_min = 240\nmem_gb = 32\n'
                      'extra = { constraint = "a100" }\n')
    settings = SlurmSettings.from_toml(config).with_options(
        ["jobs=4", "qos=high", "extra.exclude=node7"])
    assert (settings.partition, settings.time_min, settings.mem_gb, settings.jobs,
            settings.qos) == ("gpu", 240, 32.0, 4, "high")
    assert settings.extra == {"constraint": "a100", "exclude": "node7"}


@pytest.mark.parametrize(("options", "message"), [
    (["partiton=gpu"], "slurm.partiton: unknown setting"),
    (["time_min=an hour"], "slurm.time_min: a int"),
    (["jobs=0"], "slurm.jobs: must be at least 1"),
    (["gpus_per_trial=-1"], "slurm.gpus_per_trial: must not be negative"),
    (["time_min=1", "signal_delay_s=90"], "not shorter than the time limit"),
    (["partition"], "expected key=value"),
])
def test_a_bad_setting_is_refused_naming_it(options, message):
    with pytest.raises(ConfigError, match=message):
        SlurmSettings().with_options(options)


def test_a_wrong_type_in_the_slurm_table_is_refused(tmp_path):
    config = tmp_path / "cluster.toml"
    config.write_text("[slurm]\ntime_min = \"60\"\n")
    with pytest.raises(ConfigError, match="slurm.time_min: a int, not str"):
        SlurmSettings.from_toml(config)


def test_slurm_with_a_sqlite_store_is_refused_in_one_line_saying_why(tmp_path):
    result = CliRunner().invoke(app, ["tune", "--study", "demo", "--launcher", "slurm",
                                      "--storage", str(tmp_path / "runs.db")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --launcher slurm needs a PostgreSQL")
    assert "other nodes cannot reach a local SQLite file" in lines[0]
    assert "shared file system" in lines[0]
    assert not (tmp_path / "runs.db").exists()  # refused before anything was queued


def test_slurm_settings_without_the_slurm_launcher_are_refused(tmp_path):
    result = CliRunner().invoke(app, ["tune", "--study", "demo", "--slurm", "jobs=2",
                                      "--storage", str(tmp_path / "runs.db")])
    assert result.exit_code == 2
    assert "--slurm and --slurm-config need --launcher slurm" in result.output


@pytest.fixture
def fake_scontrol(tmp_path, monkeypatch):
    """A `scontrol` (and `scancel`) on PATH that answer from a file the test writes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    answer = tmp_path / "answer"
    (bin_dir / "scontrol").write_text(
        f'#!/bin/sh\nif [ -s {answer} ]; then cat {answer}; else '
        f'echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; fi\n')
    (bin_dir / "scancel").write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path / 'cancelled'}\n")
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return answer


def test_a_slurm_workers_liveness_is_its_jobs_state_and_restart_count(fake_scontrol):
    fake_scontrol.write_text("JobId=7 JobName=morec-demo JobState=RUNNING Restarts=1 "
                             "NodeList=gpu3\n")
    assert slurm_job_alive("7", 1) is True
    # The same job id requeued since: the worker that claimed in its earlier run is gone.
    assert slurm_job_alive("7", 0) is False
    fake_scontrol.write_text("JobId=7 JobName=morec-demo JobState=PENDING Restarts=1\n")
    assert slurm_job_alive("7", 1) is False
    fake_scontrol.write_text("")  # purged: Slurm no longer knows the job
    assert slurm_job_alive("7", 1) is False


def test_without_scontrol_liveness_falls_back_to_the_heartbeat(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no scontrol here
    assert slurm_job_alive("7", 0) is None
    worker = {"host": "another-node", "pid": 1, "claimed_at": time.time(), "slurm_job": "7",
              "slurm_restarts": 0}
    assert _worker_alive({WORKER_ATTR: worker, RUN_ATTR: "r"})  # fresh claim, no heartbeat yet
    worker["claimed_at"] = time.time() - 3600
    assert not _worker_alive({WORKER_ATTR: worker, RUN_ATTR: "r"})


def test_a_trial_on_another_node_is_dead_as_soon_as_its_job_is(fake_scontrol):
    worker = {"host": f"not-{host_label()}", "pid": os.getpid(),
              "claimed_at": time.time(), "slurm_job": "7", "slurm_restarts": 0}
    fake_scontrol.write_text("JobId=7 JobName=morec-demo JobState=RUNNING Restarts=0\n")
    assert _worker_alive({WORKER_ATTR: worker, RUN_ATTR: "r"})
    fake_scontrol.write_text("JobId=7 JobName=morec-demo JobState=CANCELLED Restarts=0\n")
    assert not _worker_alive({WORKER_ATTR: worker, RUN_ATTR: "r"})  # no 5-minute wait


def test_a_worker_records_its_job_and_which_run_of_it(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "2")
    assert slurm_identity() == {"slurm_job": "42", "slurm_restarts": 2}
    monkeypatch.delenv("SLURM_JOB_ID")
    assert slurm_identity() == {}


def test_cancel_scancels_morecs_jobs_and_no_other(fake_scontrol, tmp_path):
    fake_scontrol.write_text("JobId=8 JobName=somebody-elses JobState=RUNNING Restarts=0\n")
    with pytest.raises(SlurmError, match="not one of morec's jobs"):
        cancel("8")
    assert not (tmp_path / "cancelled").exists()
    fake_scontrol.write_text("JobId=9 JobName=morec-demo JobState=RUNNING Restarts=0\n")
    assert cancel("9") == "morec-demo"
    assert (tmp_path / "cancelled").read_text().split() == ["9"]
    fake_scontrol.write_text("")
    result = CliRunner().invoke(app, ["cancel", "10"])
    assert result.exit_code == 2 and result.output.strip() == "error: Slurm has no job 10"


@pytest.fixture
def chain_data(tmp_path, monkeypatch):
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data_root"))
    return write_chain_dataset(tmp_path / "chains")


@pytest.fixture
def preemptible():
    handlers = preemption.install()
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)
    preemption.clear()


def test_a_run_preempted_mid_epoch_checkpoints_there_and_resumes_as_if_unbroken(
        chain_data, tmp_path, preemptible):
    spec = RunSpec().with_overrides([
        "data.source=pairs", f"data.path={chain_data}", "backbone.embed_dim=32",
        "train.batch_size=32", "train.epochs=3", "train.patience=10", "train.seed=3"])
    unbroken = list(iter_run(spec, RunContext(run_id="u", run_dir=tmp_path / "unbroken")))
    store = Store(tmp_path / "runs.db")
    context = RunContext(run_id="r", run_dir=tmp_path / "broken", progress_every_s=0.0)

    def scheduler(event):  # SIGTERM, as Slurm's preemption sends, after epoch 1's 2nd step
        if isinstance(event, ev.Progress) and event.epoch == 1 and event.step == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(preemption.Preempted):
        drive(iter_run(spec, context), [store, scheduler], run_id="r")
    run = store.run("r")
    assert run.status == "interrupted" and "SIGTERM" in run.status_reason
    state = checkpoint.load(tmp_path / "broken" / "last.pt")
    assert state["epoch"] == 0 and state["partial"]["epoch"] == 1
    assert state["partial"]["step"] == 3  # stopped after the step it was in, not before it
    preemption.clear()

    resumed = list(iter_run(spec, RunContext(run_id="r", run_dir=tmp_path / "broken",
                                             resume=True)))

    def metrics(events, split):
        return [(e.epoch, e.metrics) for e in events
                if isinstance(e, ev.Evaluated) and e.split == split]

    assert [e.epoch for e in resumed if isinstance(e, ev.EpochEnded)] == [1, 2]
    assert metrics(resumed, "test") == metrics(unbroken, "test")
    assert metrics(resumed, "valid") == metrics(unbroken, "valid")[1:]
    losses = {e.epoch: e.loss for e in unbroken if isinstance(e, ev.EpochEnded)}
    assert all(math.isclose(e.loss, losses[e.epoch], rel_tol=1e-5)
               for e in resumed if isinstance(e, ev.EpochEnded))


def test_local_worker_options_with_the_slurm_launcher_are_refused(tmp_path):
    result = CliRunner().invoke(app, ["tune", "--study", "demo", "--launcher", "slurm",
                                      "--workers", "3", "--storage", "postgresql://x@y/z"])
    assert result.exit_code == 2
    assert "with --launcher slurm, ask for jobs with --slurm jobs=N" in result.output


WORKER_STUDY = '''
from morec_core.study.studies import Arm, Study

STUDY = Study(
    name="slurm_worker",
    description="two IDRec points for the worker entry",
    overrides=("data.source=pairs", "data.path={data}", "backbone.embed_dim=8",
               "train.batch_size=64", "train.epochs=1", "eval.batch_size=256"),
    arms=(Arm(name="IDRec", overrides=("encoder.name=id",), grid={{"train.lr": (1e-2, 3e-2)}}),),
)
'''


def test_the_job_entry_runs_the_renamed_study_from_plain_arguments(tmp_path, monkeypatch):
    """What a Slurm job calls (StudyWorker, with the arguments submitit stored), run here: it
    sets the shared folders, renames the study with its settings and drains its queue."""
    from morec_core.study.slurm import StudyWorker, WorkerTask
    from morec_core.study.studies import find_study
    from morec_core.study.tune import enqueue_grid, optuna_storage, optuna_url_for
    from morec_core.study_launch import StudyRequest

    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    # The worker sets both (a job's own environment): monkeypatch puts them back afterwards.
    monkeypatch.setenv("MOREC_RUNS_DIR", "unset")
    monkeypatch.setenv("MOREC_DATA_DIR", "unset")
    data = write_chain_dataset(tmp_path / "chains", users=80, items=30)
    module = tmp_path / "slurm_worker.py"
    module.write_text(WORKER_STUDY.format(data=data))
    store_url = f"sqlite:///{tmp_path / 'runs' / 'morec.db'}"
    definition = find_study(str(module)).renamed_with("renamed", ["train.weight_decay=0.1"])
    store = Store(store_url)
    enqueue_grid(definition, optuna_storage(optuna_url_for(store_url), store), store)
    request = StudyRequest(study=str(module), name="renamed",
                           overrides=("train.weight_decay=0.1",))
    task = WorkerTask(request_argv=tuple(request.to_argv()), store_url=store_url,
                      runs_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data_root"),
                      job_name="renamed")
    kwargs = task.as_kwargs()
    assert all(isinstance(value, str | bool | int | list | type(None))
               for value in kwargs.values())  # plain data only, for submitit to store
    handlers = {signum: signal.getsignal(signum) for signum in preemption.PREEMPTION_SIGNALS}
    try:
        assert StudyWorker()(**kwargs) == 2
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        preemption.clear()
    runs = store.runs(study="renamed")
    assert sorted(run.status for run in runs) == ["completed", "completed"]
    assert {run.spec["train"]["weight_decay"] for run in runs} == {0.1}
    assert os.environ["MOREC_DATA_DIR"] == str(tmp_path / "data_root")
