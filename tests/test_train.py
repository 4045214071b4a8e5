import math

import pytest

from morec_core.config import RunSpec
from morec_core.run import events as ev
from morec_core.run.runner import drive
from morec_core.run.train import RunContext, iter_run
from morec_core.store import Store
from tests.synthetic import write_chain_dataset


@pytest.fixture
def chain_data(tmp_path, monkeypatch):
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data_root"))
    return write_chain_dataset(tmp_path / "chains")


def spec_for(folder, *overrides):
    return RunSpec().with_overrides([
        "data.source=pairs", f"data.path={folder}", "backbone.embed_dim=32",
        "train.batch_size=32", "train.epochs=4", "train.patience=10", "train.seed=3",
        *overrides])


def events_of(spec, run_dir, **context):
    return list(iter_run(spec, RunContext(run_id="r", run_dir=run_dir, **context)))


def test_a_run_learns_and_reports_test_metrics_of_the_best_validation_epoch(chain_data, tmp_path):
    spec = spec_for(chain_data, "train.epochs=8")
    store = Store(tmp_path / "runs.db")
    status = drive(iter_run(spec, RunContext(run_id="r", run_dir=tmp_path / "run")), [store],
                   run_id="r")
    assert status == "completed"
    curves = store.curves("r")
    losses = [point.value for point in curves[("train", "loss")]]
    assert losses[-1] < losses[0]
    run = store.run("r")
    valid_hr = {point.epoch: point.value for point in curves[("valid", "hr@10")]}
    assert valid_hr[run.best_epoch] > 3 * 10 / 60  # random ranking expects k / items
    test = store.metrics("r", "test")  # at the best validation epoch
    assert set(test) >= {"hr@10", "ndcg@10"}
    assert [p.epoch for p in curves[("test", "hr@10")]] == [run.best_epoch]
    assert run.trainable_params and run.seconds_per_epoch and run.peak_memory_bytes
    assert run.flops_per_sample and run.flops_per_sample > 0


def test_a_run_killed_after_epoch_2_and_resumed_ends_with_the_same_metrics(chain_data, tmp_path):
    spec = spec_for(chain_data)
    unbroken = events_of(spec, tmp_path / "unbroken")

    interrupted = iter_run(spec, RunContext(run_id="r", run_dir=tmp_path / "broken"))
    for event in interrupted:
        if isinstance(event, ev.CheckpointSaved) and event.epoch == 1:
            interrupted.close()  # as a kill would: nothing after epoch 2's checkpoint runs
            break
    resumed = events_of(spec, tmp_path / "broken", resume=True)

    def metrics(events, split):
        return [(e.epoch, e.metrics) for e in events if isinstance(e, ev.Evaluated)
                and e.split == split]

    assert [e.epoch for e in resumed if isinstance(e, ev.EpochEnded)] == [2, 3]
    assert metrics(resumed, "test") == metrics(unbroken, "test")
    assert metrics(resumed, "valid") == metrics(unbroken, "valid")[2:]
    losses = {e.epoch: e.loss for e in unbroken if isinstance(e, ev.EpochEnded)}
    assert all(math.isclose(e.loss, losses[e.epoch], rel_tol=1e-6)
               for e in resumed if isinstance(e, ev.EpochEnded))
    # The end carries the best epoch's validation value, also when that epoch ran before the
    # resume (a worker's log prints it: "best valid ... at epoch N").
    [finished] = [e for e in resumed if isinstance(e, ev.RunFinished)]
    selection = spec.eval.selection_metric
    best_valid = {e.epoch: e.metrics[selection] for e in unbroken
                  if isinstance(e, ev.Evaluated) and e.split == "valid"}
    assert finished.best_value == best_valid[finished.best_epoch] == max(best_valid.values())


def test_early_stopping_ends_after_patience_evaluations_without_gain(chain_data, tmp_path):
    # A learning rate this small changes nothing in 3 decimals: validation never improves.
    spec = spec_for(chain_data, "train.lr=1e-9", "train.patience=2", "train.epochs=20")
    epochs = [e.epoch for e in events_of(spec, tmp_path / "run") if isinstance(e, ev.EpochEnded)]
    assert len(epochs) < 20


@pytest.mark.parametrize(("precision", "autocast_expected"), [("bf16", True), ("fp32", False)])
def test_evaluation_runs_under_the_training_precision(chain_data, tmp_path, monkeypatch,
                                                      precision, autocast_expected):
    """Validation and test evaluate under the run's autocast (on a GPU the item table through an
    E2E encoder is most of an evaluation), and still report float metrics that learn."""
    import torch

    import morec_core.run.build as build_module

    def record_autocast(name: str) -> list[bool]:
        """Whether autocast is on at each call of build_module's `name`."""
        seen, original = [], getattr(build_module, name)

        def recording(*args, **kwargs):
            seen.append(torch.is_autocast_enabled("cpu"))
            return original(*args, **kwargs)

        monkeypatch.setattr(build_module, name, recording)
        return seen

    seen, tables = record_autocast("evaluate_users"), record_autocast("compute_item_table")
    events = events_of(spec_for(chain_data, "train.epochs=2", f"train.precision={precision}",
                                "train.device=cpu"), tmp_path / "run")
    evaluated = [event for event in events if isinstance(event, ev.Evaluated)]
    assert [event.split for event in evaluated] == ["valid", "valid", "test"]
    assert seen == [autocast_expected] * 3
    assert tables == [autocast_expected]  # the test table (validation computes its own)
    assert all(math.isfinite(value) for event in evaluated for value in event.metrics.values())


def test_the_test_split_and_its_subsets_share_one_item_table(chain_data, tmp_path, monkeypatch):
    """With an E2E encoder an item table is a pass of the catalogue through it: the test split
    and its cold/new subsets, scored on the same weights, share one, and match their own."""
    import numpy as np
    import torch

    import morec_core.run.build as build_module
    from morec_core.run import checkpoint
    from morec_core.run.model import Recommender

    monkeypatch.setattr(build_module, "evaluation_subsets", lambda dataset: {
        "test_cold": np.arange(0, 40), "test_new": np.arange(40, 90)})
    calls = []
    original = Recommender.item_table

    def counting(self, *args, **kwargs):
        calls.append(self.training)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Recommender, "item_table", counting)
    spec = spec_for(chain_data, "train.epochs=2")
    events = events_of(spec, tmp_path / "run")
    evaluated = {event.split: event for event in events
                 if isinstance(event, ev.Evaluated) and event.split != "valid"}
    assert list(evaluated) == ["test", "test_cold", "test_new"]
    assert len(calls) == 2 + 1 and not any(calls)  # one per validation, one for the tests
    assert evaluated["test_cold"].metrics["users"] == 40
    # The shared table gives what the subset's own evaluation gives.
    built = build_module.build_run(spec, torch.device("cpu"))
    built.model.load_state_dict(checkpoint.load(tmp_path / "run" / "best.pt")["model"])
    assert built.evaluate("test_new").metrics("expected") == evaluated["test_new"].metrics


def test_a_run_keeps_per_user_results_and_recompute_gives_them_back(chain_data, tmp_path):
    import sqlite3

    import numpy as np

    from morec_core.launch import reevaluate

    spec = spec_for(chain_data, "train.epochs=3")
    store = Store(tmp_path / "runs.db")
    drive(iter_run(spec, RunContext(run_id="r", run_dir=tmp_path / "runs" / "r")), [store],
          run_id="r")
    run = store.run("r")
    recorded = {split: store.user_results(["r"], split)["r"] for split in ("valid", "test")}
    assert recorded["valid"][0] == run.best_epoch == recorded["test"][0]
    test = recorded["test"][1]
    assert len(test) == store.metrics("r", "test")["users"]
    assert test.metrics("expected")["hr@10"] == pytest.approx(store.metrics("r", "test")["hr@10"])
    # What an older morec left: no per-user results; recompute reads the best checkpoint.
    with sqlite3.connect(tmp_path / "runs.db") as connection:
        connection.execute("DELETE FROM morec_user_results")
    assert store.user_results(["r"], "test") == {}
    outcome = reevaluate(store, run, tmp_path / "runs")
    assert outcome.problem == "" and "test" in outcome.splits
    again = store.user_results(["r"], "test")["r"][1]
    assert np.array_equal(again.greater, test.greater)
    assert np.array_equal(again.equal, test.equal)
    (tmp_path / "runs" / "r" / "best.pt").unlink()
    missing = reevaluate(store, run, tmp_path / "runs")
    assert missing.problem.endswith("best.pt: no best checkpoint") and missing.splits == ()


def test_recompute_never_opens_a_checkpoint_path_recorded_in_the_row(chain_data, tmp_path):
    """A shared store's row names its own checkpoint path: recompute reads only
    runs/<id>/best.pt, and a run id that is no folder name is refused."""
    import dataclasses
    import shutil

    from morec_core.launch import reevaluate as recompute_user_results

    spec = spec_for(chain_data, "train.epochs=1")
    store = Store(tmp_path / "runs.db")
    drive(iter_run(spec, RunContext(run_id="r", run_dir=tmp_path / "runs" / "r")), [store],
          run_id="r")
    run = store.run("r")
    elsewhere = tmp_path / "elsewhere" / "r"
    shutil.move(tmp_path / "runs" / "r", elsewhere)
    pointed = dataclasses.replace(run, checkpoint_path=str(elsewhere / "last.pt"))
    outcome = recompute_user_results(store, pointed, tmp_path / "runs")
    assert outcome.splits == () and str(tmp_path / "runs" / "r" / "best.pt") in outcome.problem
    assert f"checkpoints in {elsewhere}" in outcome.problem
    climbing = dataclasses.replace(run, id="../elsewhere/r")
    refused = recompute_user_results(store, climbing, tmp_path / "runs")
    assert refused.splits == () and "is not a run id" in refused.problem
