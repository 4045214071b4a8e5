import os
import subprocess
import sys
from pathlib import Path

import pytest

from morec_core.store import Store
from tests.synthetic import write_chain_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_one_run_on_two_gloo_processes_records_one_run(tmp_path):
    data = write_chain_dataset(tmp_path / "chains", users=120, items=50)
    store_path = tmp_path / "runs.db"
    env = dict(os.environ, MOREC_DATA_DIR=str(tmp_path / "data_root"),
               MOREC_RUNS_DIR=str(tmp_path / "runs"))
    result = subprocess.run(
        [sys.executable, "-m", "morec_tui.cli", "run", "--dataset", "pairs", "--path", str(data),
         "--set", "backbone.embed_dim=16", "--set", "train.epochs=3", "--set",
         "train.batch_size=16", "--storage", str(store_path), "--quiet", "--nproc-per-node", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    runs = Store(store_path).runs()
    assert len(runs) == 1, "rank 1 must not record a run of its own"
    run = runs[0]
    assert run.status == "completed"
    curves = Store(store_path).curves(run.id)
    assert [p.epoch for p in curves[("train", "loss")]] == [0, 1, 2]
    assert run.best_value is not None and run.best_value > 0
    assert "epoch 3/3" in result.stderr
