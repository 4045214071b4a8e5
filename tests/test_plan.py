"""`morec plan`: rows per configuration, a total, nothing written to the store, IDRec's planned
s/epoch within 2x of a real run's, bad input in one line, and the pricing arithmetic."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from morec_core.config import RunSpec
from morec_core.data.fingerprint import DataFingerprint
from morec_core.launch import execute
from morec_core.run import events as ev
from morec_core.run.run_context import RunContext
from morec_core.store import Store
from morec_core.study.plan import Plan, PlanRow, expected_epochs, make_plan, targets
from morec_core.study.plan_measure import Measurement
from morec_core.study.studies import Arm, Study
from morec_tui.cli import app
from tests.synthetic import write_chain_dataset


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Data, runs and store under tmp_path, and a store that already holds a run."""
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOREC_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MOREC_STORE", str(tmp_path / "runs" / "morec.db"))
    with Store(tmp_path / "runs" / "morec.db") as store:
        spec = RunSpec()
        store.record(ev.RunStarted(run_id="before", spec=spec.to_dict(), spec_key=spec.spec_key,
                                   selection_metric="ndcg@10", host="h", pid=1, device="cpu",
                                   study="demo", arm="IDRec"))
    return tmp_path


def chain_study(folder: Path, *arms: Arm, epochs: int = 3) -> Study:
    return Study(name="chain", description="", overrides=(
        "data.source=pairs", f"data.path={folder}", "backbone.embed_dim=32",
        "train.batch_size=32", f"train.epochs={epochs}", "train.patience=10"),
        arms=arms or (Arm(name="IDRec", overrides=("encoder.name=id",),
                          grid={"train.lr": (1e-3, 5e-4)}),))


@pytest.mark.slow  # the demo's two arms, MiniLM-L6 two-stage features extracted: a minute or more
def test_a_plan_of_the_demo_has_a_row_per_arm_and_a_total_and_writes_no_store(places):
    store_file = places / "runs" / "morec.db"
    before = store_file.read_bytes()
    result = CliRunner().invoke(app, ["plan", "--study", "demo", "--format", "json",
                                      "--steps", "3", "--warmup", "1"])
    assert result.exit_code == 0, result.output
    plan = Plan.from_json(result.stdout[result.stdout.index("{"):])
    assert [row.arm for row in plan.rows] == ["IDRec", "MiniLM-L6 TS"]
    for row in plan.rows:
        assert row.measurement is not None and row.measurement.seconds_per_epoch > 0
        assert row.measurement.peak_memory_bytes > 0 and row.fits
        assert (row.search_trials, row.seed_trials, row.epochs_upper) == (2, 2, 30)
    assert plan.trials() == 8 and plan.device_hours(expected=False) > 0
    # The one run in the store is of arm IDRec and never finished: no expected epochs.
    assert "IDRec: no finished run in the store" in " ".join(plan.notes)
    assert store_file.read_bytes() == before  # not migrated, not written
    assert not (places / "runs" / "jobs.json").exists()
    with Store(store_file, read_only=True) as store:
        assert [run.id for run in store.runs()] == ["before"]
    assert Plan.from_json((places / "runs" / "plans" / "demo.json").read_text()) == plan


def test_the_planned_s_per_epoch_of_idrec_is_within_2x_of_a_real_runs(places):
    """Back to back on this machine: the plan's measurement, then a real run of the same spec
    (the machine is shared, so the two are taken as close in time as possible)."""
    folder = write_chain_dataset(places / "chains", users=600, length=14)
    study = chain_study(folder)
    plan = make_plan(study, store_runs=[], store="none", warmup=2, steps=8)
    [planned] = [row for row in plan.rows if row.arm == "IDRec"]
    assert planned.measurement is not None, plan.notes
    spec = study.points()[0].spec
    with Store(places / "real.db") as store:
        execute(spec, RunContext(run_id="real", run_dir=places / "real"), store)
        real = store.run("real")
    assert real.seconds_per_epoch is not None
    ratio = planned.measurement.seconds_per_epoch / real.seconds_per_epoch
    print(f"planned {planned.measurement.seconds_per_epoch:.3f} s/epoch, real {real.seconds_per_epoch:.3f}: ratio {ratio:.2f}")
    assert 0.5 <= ratio <= 2.0, (planned.measurement, real.seconds_per_epoch)
    # The run recorded the data it trained on.
    recorded = DataFingerprint.from_json(real.data_fingerprint)
    assert recorded is not None and recorded.users == 600 and recorded.dataset == "chains"


def test_targets_are_one_per_arm_and_shape_not_per_learning_rate(tmp_path):
    study = chain_study(tmp_path, Arm(name="IDRec", overrides=("encoder.name=id",),
                                      grid={"train.lr": (1e-3, 5e-4),
                                            "backbone.embed_dim": (32, 64)}))
    found = targets(study)
    assert [(target.variant, target.search_trials) for target in found] == [
        ("backbone.embed_dim=32", 2), ("backbone.embed_dim=64", 2)]


def measurement(seconds_per_epoch: float, evaluation: float = 0.0, setup: float = 0.0,
                peak: int = 1) -> Measurement:
    return Measurement(device="cpu, fp32", seconds_per_step=1.0, steps_per_epoch=1,
                       seconds_per_epoch=seconds_per_epoch, evaluation_seconds=evaluation,
                       setup_seconds=setup, peak_memory_bytes=peak, device_memory_bytes=10,
                       trainable_params=1, steps_timed=1)


def test_device_hours_and_wall_time_are_priced_from_the_measurements():
    rows = (PlanRow(arm="IDRec", variant="", cost_key="a", measurement=measurement(9, 1, 36),
                    search_trials=3, seed_trials=2, epochs_upper=10, epochs_expected=4.0),
            PlanRow(arm="TS", variant="", cost_key="b", measurement=measurement(90, 10, 0, 99),
                    search_trials=1, seed_trials=0, epochs_upper=10, epochs_expected=None))
    plan = Plan(study="s", workers=2, worker_kind="GPUs", rows=rows, notes=(), store="x")
    # 5 trials x 10 epochs x 10 s + 1 trial x 10 epochs x 100 s + 36 s of setup.
    assert plan.device_hours(expected=False) == pytest.approx((500 + 1000 + 36) / 3600)
    assert plan.device_hours(expected=True) is None  # TS has no finished run
    # Two workers: the 1000 s trial on one, the five 100 s trials on the other; then setup.
    assert plan.wall_hours(expected=False) == pytest.approx((1000 + 36) / 3600)
    assert rows[1].fits is False and rows[0].fits is True
    assert Plan.from_json(plan.to_json()) == plan


def test_expected_epochs_come_from_finished_runs_only():
    class Run:
        def __init__(self, arm, status, last_epoch):
            self.arm, self.status, self.last_epoch = arm, status, last_epoch

    found = expected_epochs([Run("IDRec", "completed", 9), Run("IDRec", "pruned", 3),
                             Run("IDRec", "running", 0), Run("TS", "failed", 5)])
    assert found == {"IDRec": 7.0}  # (10 + 4) / 2 epochs; a running or failed run says nothing


@pytest.mark.parametrize(("arguments", "message"), [
    (["--study", "no_such_study"], "unknown study 'no_such_study'"),
    (["--study", "demo", "--gpus", "99"], "--gpus 99: "),
])
def test_bad_input_is_one_line_and_exit_2(places, arguments, message):
    result = CliRunner().invoke(app, ["plan", *arguments])
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: ") and message in line


def test_a_model_that_is_not_installed_is_one_line(places):
    module = places / "missing_model.py"
    module.write_text(
        "from morec_core.studies import Arm, Study\n"
        "STUDY = Study(name='missing_model', description='', overrides=('data.source=demo',),\n"
        "              arms=(Arm(name='BERT', overrides=('encoder.name=text',\n"
        "                        'encoder.model=no-such-org/no-such-model')),))\n")
    result = CliRunner().invoke(app, ["plan", "--study", str(module)])
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert "no-such-org/no-such-model is not in the Hugging Face cache" in line
