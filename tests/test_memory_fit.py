"""Settings bounded by the catalogue and the machine: refused in one line before a step runs."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from morec_core.config import ConfigError, RunSpec
from morec_core.run import memory_fit
from morec_core.store import Store
from morec_tui.cli import app
from tests.synthetic import write_chain_dataset

CPU = torch.device("cpu")


def spec(*overrides: str) -> RunSpec:
    return RunSpec().with_overrides(["train.batch_size=128", "backbone.embed_dim=64",
                                     "eval.batch_size=1024", *overrides])


def test_the_estimate_grows_with_what_each_loss_scores():
    """(positions x candidates) logits: BCE 2 candidates, in-batch P, full I + 1, sampled K + 1."""
    positions = 128 * 23

    def logits(loss: str, *extra: str) -> int:
        return memory_fit.estimate_step(spec(f"train.loss={loss}", *extra), num_items=19_999,
                                        positions_per_example=23).bytes

    assert logits("bce") == 1024 * 20_000 * 4 * 2  # evaluation's scores dominate
    assert logits("softmax", "eval.batch_size=1") == positions * positions * 4 * 3
    assert logits("full_softmax") == positions * 20_000 * 4 * 3 + 20_000 * 64 * 4 * 2
    huge = memory_fit.estimate_step(spec("train.loss=sampled_softmax",
                                         "train.sampled_negatives=1000000000"),
                                    num_items=19_999, positions_per_example=23)
    assert huge.bytes > positions * 10**9 * 12 and "1,000,000,001 candidates" in huge.what


def test_a_step_larger_than_free_memory_is_refused_with_both_figures(monkeypatch):
    monkeypatch.setattr(memory_fit, "free_memory", lambda device: (2 * 1024**3, "available RAM"))
    with pytest.raises(ConfigError) as caught:
        memory_fit.check_step_fits(spec("train.loss=full_softmax"), num_items=1_000_000,
                                   positions_per_example=50, device=CPU)
    message = str(caught.value)
    assert "one step needs at least 72.0 GiB" in message and "has 2.0 GiB available RAM" in message
    assert "(6,400 positions x 1,000,001 candidates)" in message and "\n" not in message
    memory_fit.check_step_fits(spec("train.loss=full_softmax"), num_items=10_000,
                               positions_per_example=50, device=CPU)  # 0.8 GB: fits


def test_sampled_negatives_beyond_the_catalogue_are_refused_even_when_they_fit():
    with pytest.raises(ConfigError, match=r"train.sampled_negatives=30 is more than the "
                                          r"catalogue's 20 items"):
        memory_fit.check_step_fits(spec("train.loss=sampled_softmax",
                                        "train.sampled_negatives=30"),
                                   num_items=20, positions_per_example=5, device=CPU)


def test_a_run_that_cannot_fit_exits_2_in_one_line_and_is_recorded_failed(tmp_path, monkeypatch):
    data = write_chain_dataset(tmp_path / "chains", users=40, items=20)
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data_root"))
    monkeypatch.setenv("MOREC_RUNS_DIR", str(tmp_path / "runs"))
    store = str(tmp_path / "runs.db")
    result = CliRunner().invoke(app, ["run", "--dataset", "pairs", "--path", str(data),
                                      "--storage", store, "--quiet",
                                      "--set", "train.loss=sampled_softmax",
                                      "--set", "train.sampled_negatives=1000000000"])
    assert result.exit_code == 2
    [error] = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert "one step needs at least" in error and "TiB" in error
    assert "train.sampled_negatives=1,000,000,000 is more than the catalogue's 20 items" in error
    [run] = Store(store).runs()
    assert run.status == "failed" and "one step needs at least" in (run.error or "")
    assert not (tmp_path / "runs" / run.id / "last.pt").exists()
