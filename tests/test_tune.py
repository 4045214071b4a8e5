import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from morec_core.run.faults import MARKER_ENV, PAUSE_AT_ENV
from morec_core.store import Store
from morec_core.study.studies import Arm, Study, find_study
from morec_core.study.tune import arm_study_name, optuna_url_for, trial_spec
from tests.conftest import empty_postgres
from tests.synthetic import write_chain_dataset

ROOT = Path(__file__).resolve().parents[1]

STUDY_MODULE = '''
from morec_core.study.studies import Arm, Study

STUDY = Study(
    name="grid12",
    description="a 12-point IDRec grid on chain data",
    overrides=("data.source=pairs", "data.path={data}", "backbone.embed_dim=16",
               "train.batch_size=64", "train.epochs={epochs}", "eval.batch_size=256"),
    arms=(Arm(name="IDRec", overrides=("encoder.name=id",),
              grid={{"train.lr": (1e-3, 5e-4, 1e-4, 5e-5), "train.weight_decay": (0.1, 0.01, 0.0)}}),),
)
'''


def test_grid_expansion():
    study = Study(name="s", description="", overrides=("train.epochs=3",), seeds=(1, 2), arms=(
        Arm(name="IDRec", grid={"train.lr": (1e-3, 1e-4), "backbone.embed_dim": (64, 128)}),
        Arm(name="MoRec", overrides=("encoder.name=text", "encoder.model=minilm-l6"),
            grid={"train.lr_encoder": (1e-4, 5e-5, 1e-5)}),
    ))
    assert len(study.points()) == 2 * 2 + 3  # the search: every configuration on seed 1
    assert {point.seed for point in study.points()} == {1}
    points = study.every_point()
    assert len(points) == (2 * 2 + 3) * 2
    assert len({point.key for point in points}) == len(points)
    assert [point.search for point in points[:2]] == [True, False]
    later = study.seed_points("MoRec", {"train.lr_encoder": 5e-5})
    assert [(point.seed, point.search) for point in later] == [(2, False)]
    assert later[0].spec.train.lr_encoder == 5e-5 and later[0].spec.train.seed == 2
    first = points[0]
    assert first.spec.train.epochs == 3
    assert first.spec.train.lr == first.params["train.lr"]
    assert first.spec.backbone.embed_dim == first.params["backbone.embed_dim"]
    morec = [point for point in points if point.arm == "MoRec"]
    assert {point.spec.train.lr_encoder for point in morec} == {1e-4, 5e-5, 1e-5}
    assert all(point.spec.encoder.model == "minilm-l6" for point in morec)
    assert {point.seed for point in morec} == {1, 2}
    # Seeds of one configuration share a spec key; configurations do not.
    assert len({point.spec.spec_key for point in morec}) == 3


def test_seeds_count_up_from_the_first_and_bad_seeds_are_refused():
    study = Study(name="s", description="", seeds=3, arms=(Arm(name="A"),))
    assert study.seed_values == (42, 43, 44)
    assert study.with_seeds(1).seed_values == (42,)
    with pytest.raises(ValueError, match="seeds must be"):
        Study(name="s", description="", seeds=0, arms=(Arm(name="A"),))
    with pytest.raises(ValueError, match="seeds must be"):
        Study(name="s", description="", seeds=(1, 1), arms=(Arm(name="A"),))


def test_compile_reaches_end_to_end_networks_only_and_keeps_the_spec_key():
    study = Study(name="s", description="", arms=(
        Arm(name="IDRec"),
        Arm(name="E2E", overrides=("encoder.name=text", "encoder.model=minilm-l6")),
        Arm(name="E2E vision", overrides=("encoder.name=vision",)),
        Arm(name="top-2", overrides=("encoder.name=text", "encoder.finetune_layers=2")),
        Arm(name="two-stage", overrides=("encoder.name=text", "encoder.mode=two_stage")),
    ))
    for point in study.points():
        assert trial_spec(point) is point.spec  # off unless asked
        spec = trial_spec(point, compile_networks=True)
        assert spec.train.compile == (point.arm in ("E2E", "E2E vision")), point.arm
        assert spec.spec_key == point.spec.spec_key
        assert spec.with_overrides(["train.compile=false"]) == point.spec


def test_a_bad_grid_names_the_study_and_key():
    study = Study(name="bad", description="", arms=(Arm(name="A", grid={"train.lrr": (1,)}),))
    with pytest.raises(ValueError, match=r"bad.*train\.lrr"):
        study.points()


@pytest.fixture
def grid_env(tmp_path):
    data = write_chain_dataset(tmp_path / "chains", users=120, items=50)

    def make(epochs):
        module = tmp_path / f"grid12_{epochs}.py"
        module.write_text(STUDY_MODULE.format(data=data, epochs=epochs))
        return module

    env = dict(os.environ, MOREC_DATA_DIR=str(tmp_path / "data_root"),
               MOREC_RUNS_DIR=str(tmp_path / "runs"), PYTHONUNBUFFERED="1")
    return make, env


def _tune(module, store_url, env, *extra, **popen):
    command = [sys.executable, "-m", "morec_tui.cli", "tune", "--study", str(module),
               "--storage", store_url, *extra]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **popen)


def _assert_every_point_completed_once(store_url, module):
    study = find_study(str(module))
    runs = Store(store_url).runs(study="grid12")
    completed = [run for run in runs if run.status == "completed"]
    points = {(run.spec["train"]["lr"], run.spec["train"]["weight_decay"]) for run in completed}
    assert len(completed) == 12 and len(points) == 12, [(r.status, r.id) for r in runs]
    optuna_study = optuna.load_study(study_name=arm_study_name(study, "IDRec"),
                                     storage=optuna_url_for(store_url))
    complete = [t for t in optuna_study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 12
    assert len({(t.params["train.lr"], t.params["train.weight_decay"]) for t in complete}) == 12
    return runs, optuna_study


@pytest.mark.slow
def test_three_workers_on_one_sqlite_store_run_every_point_exactly_once(grid_env, tmp_path):
    make, env = grid_env
    module = make(epochs=1)
    store_url = f"sqlite:///{tmp_path / 'runs' / 'morec.db'}"
    # --compile travels to the workers and leaves an ID arm as it is.
    process = _tune(module, store_url, env, "--workers", "3", "--compile")
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    runs, _ = _assert_every_point_completed_once(store_url, module)
    assert len(runs) == 12  # nothing ran twice
    assert not any(run.spec["train"]["compile"] for run in runs)
    logs = list((tmp_path / "runs" / "logs").glob("*.log"))
    assert len(logs) == 3
    assert sum("IDRec" in log.read_text() for log in logs) >= 2  # the work was shared


@pytest.mark.slow
def test_a_worker_killed_mid_trial_and_the_study_restarted_loses_nothing(grid_env, tmp_path):
    make, env = grid_env
    module = make(epochs=3)
    store_url = f"sqlite:///{tmp_path / 'runs' / 'morec.db'}"
    # Its own process group, so SIGKILL takes the whole worker down at once. The worker waits
    # at its 5th validation (the second trial's second epoch, the first trial completed) until
    # killed: on a fast machine the whole grid once ended before the test could look.
    paused = {**env, PAUSE_AT_ENV: "validation:5", MARKER_ENV: str(tmp_path / "paused.json")}
    process = _tune(module, store_url, paused, start_new_session=True)
    store = Store(store_url)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        running = [run for run in store.runs(study="grid12", statuses=["running"])
                   if run.last_epoch is not None]
        finished = store.runs(study="grid12", statuses=["completed"])
        if running and finished:
            break
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.2)
    assert running, "no trial got going"
    victim = running[0].id
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    restarted = _tune(module, store_url, env)
    output, _ = restarted.communicate(timeout=600)
    assert restarted.returncode == 0, output
    runs, optuna_study = _assert_every_point_completed_once(store_url, module)
    # The killed trial was run again by resuming its own run from its checkpoint.
    assert Store(store_url).run(victim).status == "completed"
    failed = [t for t in optuna_study.trials if t.state == optuna.trial.TrialState.FAIL]
    victims = [t for t in optuna_study.trials if t.user_attrs.get("morec_run_id") == victim]
    # Killed mid-run: its trial failed and a successor resumed the same run. Killed in the
    # moment after its run completed (seen running at the last poll): told from the store.
    assert [t.user_attrs["morec_run_id"] for t in failed] in ([victim], [])
    assert any(t.state == optuna.trial.TrialState.COMPLETE for t in victims)
    assert len(runs) == 12


POSTGRES_URL = os.environ.get("MOREC_TEST_POSTGRES_URL")


@pytest.mark.slow
@pytest.mark.skipif(not POSTGRES_URL, reason="MOREC_TEST_POSTGRES_URL is not set (.ci/run starts "
                    "a PostgreSQL server on 127.0.0.1 and sets it)")
def test_two_workers_share_one_grid_through_postgresql(grid_env, tmp_path):
    make, env = grid_env
    module = make(epochs=1)
    empty_postgres()
    first = _tune(module, POSTGRES_URL, env)
    second = _tune(module, POSTGRES_URL, env)
    for process in (first, second):
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output
    _assert_every_point_completed_once(POSTGRES_URL, module)


SEEDED_MODULE = '''
from morec_core.study.studies import Arm, Study

STUDY = Study(
    name="seeded",
    description="two IDRec arms, the best of each on two more seeds",
    overrides=("data.source=pairs", "data.path={data}", "backbone.embed_dim=8",
               "train.batch_size=64", "train.epochs=2", "eval.batch_size=256"),
    seeds=3,
    arms=(Arm(name="A", overrides=("encoder.name=id",), grid={{"train.lr": (1e-2, 1e-4)}}),
          Arm(name="B", overrides=("encoder.name=id", "backbone.name=dssm"),
              grid={{"train.lr": (1e-2, 1e-3)}})),
)
'''


@pytest.fixture
def seeded(tmp_path, monkeypatch):
    """The seeded study's module on chain data, and a fresh store: (module, store_url, store)."""
    data = write_chain_dataset(tmp_path / "chains", users=80, items=30)
    module = tmp_path / "seeded.py"
    module.write_text(SEEDED_MODULE.format(data=data))
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data_root"))
    store_url = f"sqlite:///{tmp_path / 'runs' / 'morec.db'}"
    return module, store_url, Store(store_url)


def test_seeds_rerun_each_arms_best_configuration_and_can_be_raised_later(tmp_path, seeded):
    from morec_core.study.tune import enqueue_grid, optuna_storage, work

    module, store_url, store = seeded
    optuna_url = optuna_url_for(store_url)
    study = find_study(str(module)).with_seeds(1)  # first the search alone
    assert [point.seed for point in study.points()] == [42] * 4
    enqueue_grid(study, optuna_storage(optuna_url, store), store)
    assert work(study, store_url, optuna_url, tmp_path / "runs") == 4

    study = find_study(str(module))  # the module's 3 seeds: 2 more runs of each arm's best
    assert work(study, store_url, optuna_url, tmp_path / "runs") == 4
    runs = store.runs(study="seeded")
    assert len(runs) == 8 and all(run.status == "completed" for run in runs)
    for arm in ("A", "B"):
        searched = [run for run in runs if run.arm == arm and run.seed == 42]
        best = max(searched, key=lambda run: run.best_value)
        seeded = [run for run in runs if run.arm == arm and run.seed != 42]
        assert sorted(run.seed for run in seeded) == [43, 44]
        assert {run.spec_key for run in seeded} == {best.spec_key}
    # Nothing is queued twice: a third pass finds no work.
    assert work(study, store_url, optuna_url, tmp_path / "runs") == 0


def test_a_definition_leaves_the_points_it_lacks_waiting_for_one_that_has_them(tmp_path,
                                                                               seeded):
    """A shrunk grid (or fewer seeds) neither runs nor fails the trials of the points it lacks:
    the fuller definition runs them later, and what ran is not run again."""
    from morec_core.study.tune import enqueue_grid, optuna_storage, work

    module, store_url, store = seeded
    optuna_url = optuna_url_for(store_url)
    full = find_study(str(module)).with_seeds(1)
    enqueue_grid(full, optuna_storage(optuna_url, store), store)
    arm_a = full.arms[0]
    shrunk = Study(name=full.name, description="", overrides=full.overrides, seeds=1,
                   arms=(Arm(name="A", overrides=arm_a.overrides, grid={"train.lr": (1e-2,)}),))
    assert work(shrunk, store_url, optuna_url, tmp_path / "runs") == 1
    trials = optuna.load_study(study_name=arm_study_name(full, "A"), storage=optuna_url).trials
    assert sorted(t.state.name for t in trials) == ["COMPLETE", "WAITING"]
    assert work(full, store_url, optuna_url, tmp_path / "runs") == 3
    assert len(store.runs(study="seeded")) == 4


MISSING_MODULE = '''
from morec_core.study.studies import Arm, Study

STUDY = Study(
    name="nodata",
    description="a study whose data folder is not there",
    overrides=("data.source=pairs", "data.path={data}", "train.epochs=1"),
    arms=(Arm(name="IDRec", overrides=("encoder.name=id",), grid={{"train.lr": (1e-3, 1e-4)}}),
          Arm(name="MiniLM", overrides=("encoder.name=text", "encoder.model={model}"),
              grid={{"train.lr": (1e-3,)}})),
)
'''


def test_a_study_whose_data_is_missing_stops_before_queueing_anything(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from morec_tui.cli import app

    module = tmp_path / "nodata.py"
    module.write_text(MISSING_MODULE.format(data=tmp_path / "nowhere",
                                            model=tmp_path / "no-model"))
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data_root"))
    store = tmp_path / "runs" / "morec.db"
    result = CliRunner().invoke(app, ["tune", "--study", str(module), "--storage", str(store)])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        f"error: study nodata: data folder {tmp_path / 'nowhere'} (pairs) is missing: "
        "put the pairs files there; "
        f"text model {tmp_path / 'no-model'}: no such folder"]
    # Neither the run store nor Optuna's storage was created.
    assert not store.exists() and not list(tmp_path.glob("runs/*"))


def test_paper_studies_find_their_data_under_the_data_folder_setting(tmp_path, monkeypatch):
    from morec_core.study.study_preflight import requirements_of

    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "elsewhere"))
    study = find_study("mind_bert")
    folder = tmp_path / "elsewhere" / "raw" / "mind-small" / "MINDsmall_train"
    assert requirements_of(study).data_folders == (("mind", str(folder)),)
    missing = requirements_of(study).missing()
    assert missing[0] == (f"data folder {folder} (mind) is missing: get it with "
                          "`morec data download mind-small`")
    folder.mkdir(parents=True)
    assert all("data folder" not in problem for problem in requirements_of(study).missing())
    hm = find_study("hm_id")
    assert requirements_of(hm).missing() == [
        f"data folder {tmp_path / 'elsewhere' / 'raw' / 'hm'} (hm) is missing: "
        "`morec data catalog` says how to get hm"]


RETRY_MODULE = '''
from morec_core.study.studies import Arm, Study

STUDY = Study(
    name="retry",
    description="one data folder that works and one that is empty at first",
    overrides=("data.source=pairs", "backbone.embed_dim=8", "train.batch_size=64",
               "train.epochs=1", "eval.batch_size=256"),
    arms=(Arm(name="IDRec", overrides=("encoder.name=id",),
              grid={{"data.path": ("{good}", "{empty}")}}),),
)
'''


def test_a_failed_trial_says_why_and_runs_again_once_its_cause_is_fixed(grid_env, tmp_path):
    _make, env = grid_env
    good = write_chain_dataset(tmp_path / "good", users=80, items=30)
    # There and readable, so tune's preflight passes; its 6 items are fewer than eval.k, which
    # only a run checks (the catalogue after the filters): so its trial fails.
    empty = write_chain_dataset(tmp_path / "empty", users=80, items=6)
    module = tmp_path / "retry.py"
    module.write_text(RETRY_MODULE.format(good=good, empty=empty))
    store_url = f"sqlite:///{tmp_path / 'runs' / 'morec.db'}"
    env = dict(env, MOREC_PROGRESS_LINE_S="0")

    output, _ = _tune(module, store_url, env).communicate(timeout=600)
    assert "seed 42: failed (ConfigError: eval.k: 10 is more than the 6 items" in output, output
    assert f"'data.path': '{good}'}} seed 42: completed" in output, output
    # Redirected: the trial's progress lines, with steps and samples/s.
    assert re.search(r"^  trial IDRec seed 42: epoch 1/1: step (\d+)/\1, [\d,]+ samples/s",
                     output, re.MULTILINE), output

    write_chain_dataset(empty, users=80, items=30)
    process = _tune(module, store_url, env)
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    assert "(0 newly queued, 1 failed queued again)" in output, output
    assert f"'data.path': '{empty}'}} seed 42: completed" in output, output
    runs = Store(store_url).runs(study="retry")
    # The completed trial did not run again; the failed one's run stays, beside its retry.
    assert sorted((run.spec["data"]["path"], run.status) for run in runs) == sorted(
        [(str(good), "completed"), (str(empty), "failed"), (str(empty), "completed")])

    process = _tune(module, store_url, env, "--no-retry-failed")
    output, _ = process.communicate(timeout=600)
    assert "(0 newly queued)" in output, output
    assert ": completed" not in output and ": failed" not in output, output


def test_cpu_workers_share_the_cores_and_gpu_workers_see_their_gpu(monkeypatch):
    from morec_core.study.tune import THREAD_VARIABLES, worker_env

    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert worker_env(None, 4)["OMP_NUM_THREADS"] == "2"
    assert worker_env(None, 16)["MKL_NUM_THREADS"] == "1"
    assert "OMP_NUM_THREADS" not in worker_env(None, 1)
    gpu = worker_env("1", 4)
    assert gpu["CUDA_VISIBLE_DEVICES"] == "1" and "OMP_NUM_THREADS" not in gpu
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's own setting wins
    assert worker_env(None, 4)["OMP_NUM_THREADS"] == "3"


def test_a_study_module_may_define_dataclasses(tmp_path):
    """dataclasses look the class's module up in sys.modules while the module runs."""
    from morec_core.study.studies import load_studies

    (tmp_path / "mine.py").write_text(
        "from dataclasses import dataclass\n"
        "from morec_core.studies import Arm, Study\n"
        "@dataclass(frozen=True)\nclass Grid:\n    lrs: tuple\n"
        "STUDY = Study(name='mine', description='d', arms=(Arm(name='a', "
        "grid={'train.lr': Grid((1e-3, 1e-4)).lrs}),))\n")
    studies = load_studies(tmp_path)
    assert len(studies["mine"].points()) == 2
