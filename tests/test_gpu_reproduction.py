"""The prepared GPU script of the reproduction (reports/gpu_reproduction.sh), dry-run on the CPU
over a tiny microlens-format folder: both studies run, the store comes back whole in $OUT, and it
merges into another store, as the real run's will."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from morec_core.encoders import packaged
from morec_core.store import Store
from tests.synthetic import write_chain_dataset

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not packaged.installed("minilm-l6"),
    reason="minilm-l6 is not installed: " + "; ".join(packaged.pip_lines("minilm-l6")))]


def test_the_gpu_script_dry_runs_on_the_cpu_and_its_store_merges(tmp_path):
    chain = write_chain_dataset(tmp_path / "chain", users=40, items=24, length=8)
    microlens = tmp_path / "shared" / "microlens-50k"
    microlens.mkdir(parents=True)
    (microlens / "MicroLens-50k_pairs.tsv").write_text((chain / "tiny_users.tsv").read_text())
    (microlens / "MicroLens-50k_titles.csv").write_text((chain / "tiny_items.csv").read_text())
    out = tmp_path / "out"
    environment = {**os.environ, "MOREC_SHARED_DATA": str(tmp_path / "shared"),
                   "MOREC_DATA_DIR": str(tmp_path / "data"), "MOREC_RUNS_DIR": str(tmp_path / "runs"),
                   "OUT": str(out), "OMP_NUM_THREADS": "1",
                   "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(["bash", str(ROOT / "reports" / "gpu_reproduction.sh"), "dry-run"],
                          env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    store = Store(out / "gpu.db", read_only=True)
    runs = store.runs()
    by_study = {}
    for run in runs:
        by_study.setdefault(run.study, {})[run.arm] = run
    assert set(by_study) == {"dry_gpu_microlens_sasrec_bce", "dry_gpu_microlens_sasrec_softmax"}
    for study, arms in by_study.items():
        assert set(arms) == {"MiniLM-L6 E2E", "MiniLM-L6 top-2", "MiniLM-L6 LoRA r8"}
        for run in arms.values():
            spec = run.spec
            assert run.status == "completed", (run.arm, run.status, run.error)
            assert spec["encoder"]["mode"] == "e2e" and spec["data"]["user_sample"] == 0
            assert spec["train"]["loss"] == ("bce" if study.endswith("_bce") else "softmax")
    merged = tmp_path / "merged.db"
    Store(merged)  # an empty store, as the CPU one would be
    merge = subprocess.run([sys.executable, "-m", "morec_tui.cli", "store", "merge",
                            str(out / "gpu.db"), "--into", str(merged)],
                           env=environment, capture_output=True, text=True, timeout=120)
    assert merge.returncode == 0, merge.stderr
    assert {run.id for run in Store(merged, read_only=True).runs()} == {run.id for run in runs}
