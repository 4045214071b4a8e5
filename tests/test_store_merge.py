"""`morec store merge`: another machine's runs added whole, once, with their results."""

import numpy as np
from typer.testing import CliRunner

from morec_core.results.compare import compare_rows
from morec_core.store import Store
from morec_tui.cli import app
from tests.test_report import record


def test_merge_copies_ended_runs_once_with_curves_and_per_user_results(tmp_path):
    rng = np.random.default_rng(0)
    main, gpu = Store(tmp_path / "main.db"), Store(tmp_path / "gpu.db")
    record(main, "id-1", "s", "IDRec", ("encoder.name=id",), 0.2, 1, rng)
    record(gpu, "e2e-1", "s", "E2E", ("encoder.name=text",), 0.3, 1, rng)
    record(gpu, "e2e-2", "s_gpu", "E2E", ("encoder.name=text",), 0.3, 2, rng)
    gpu.create_run("queued-1", gpu.run("e2e-1").spec, "key", status="queued", study="s")
    runner = CliRunner()
    result = runner.invoke(app, ["store", "merge", str(tmp_path / "gpu.db"), "--into",
                                 str(tmp_path / "main.db")])
    assert result.exit_code == 0, result.output
    assert "merged 2 runs" in result.output and "1 unfinished left out" in result.output
    main = Store(tmp_path / "main.db")
    assert {run.id for run in main.runs()} == {"id-1", "e2e-1", "e2e-2"}
    assert {study.name for study in main.studies()} == {"s", "s_gpu"}
    assert main.curves("e2e-1") == gpu.curves("e2e-1")
    assert main.user_results(["e2e-1"], "test")["e2e-1"][1].users.size == 600
    rows = {row.arm: row for row in compare_rows(main, ["s"])}
    assert rows["E2E"].comparisons["hr@10"].control == "s/IDRec"
    again = runner.invoke(app, ["store", "merge", str(tmp_path / "gpu.db"), "--into",
                                str(tmp_path / "main.db")])
    assert "merged 0 runs" in again.output and "3 already there" not in again.output
    assert "2 already there" in again.output


def test_merge_refuses_a_missing_source_and_itself(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["store", "merge", str(tmp_path / "nope.db"), "--into",
                                 str(tmp_path / "main.db")])
    assert result.exit_code != 0 and "no such file" in result.output
    Store(tmp_path / "main.db")
    result = runner.invoke(app, ["store", "merge", str(tmp_path / "main.db"), "--into",
                                 str(tmp_path / "main.db")])
    assert result.exit_code != 0 and "same store" in result.output
    assert not (tmp_path / "nope.db").exists()
