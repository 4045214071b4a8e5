import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from morec_tui.cli import app

ROOT = Path(__file__).resolve().parents[1]


def test_help_loads_neither_torch_nor_transformers():
    # rich too: typer's rich help formatter imports ~150 ms of it (cli.py asks for plain help).
    probe = ("import sys; from typer.testing import CliRunner; from morec_tui.cli import app; "
             "result = CliRunner().invoke(app, ['--help']); assert result.exit_code == 0, result.output; "
             "heavy = [m for m in ('torch', 'transformers', 'timm', 'textual', 'pandas', 'rich') "
             "if m in sys.modules]; "
             "print(','.join(heavy))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("morec ")


@pytest.mark.parametrize("command", ["tui", "tune", "compare", "run", "data"])
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_import_contract_engine_knows_nothing_of_the_shell():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


@pytest.fixture
def compared_store(tmp_path):
    """A store with an IDRec and a MoRec run whose per-user results differ."""
    import numpy as np

    from morec_core.store import Store
    from tests.test_compare import add_run, standing

    path = tmp_path / "runs.db"
    rng = np.random.default_rng(0)
    with Store(path) as store:
        add_run(store, "id", "s", "IDRec", "id", 0.1, standing(0.1, rng))
        add_run(store, "mo", "s", "Text", "text", 0.1, standing(0.3, rng))
    return str(path)


@pytest.mark.parametrize(("arguments", "message"), [
    (["--by", "train.lrr"], "--by: unknown spec key 'train.lrr'"),
    (["--correction", "bonferroni"], "unknown correction 'bonferroni'; known: holm, bh, none"),
    (["--test", "wilcoxon"], "unknown test 'wilcoxon'; known: randomization, t"),
    (["--alpha", "1.5"], "alpha must be in (0, 1), got 1.5"),
])
def test_compare_refuses_bad_settings_in_one_line(compared_store, arguments, message):
    result = CliRunner().invoke(app, ["compare", "--storage", compared_store, *arguments])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {message}")
    assert result.output.count("\n") == 1  # one line, no traceback


def test_compare_prints_verdicts_and_wilcoxon_only_with_its_warning(compared_store):
    result = CliRunner().invoke(app, ["compare", "--storage", compared_store, "--by",
                                      "train.loss", "--wilcoxon", "--correction", "bh"])
    assert result.exit_code == 0, result.output
    assert "MoRec better" in result.output and "p Wilcoxon" in result.output
    assert "warning: Wilcoxon's signed-rank test over-rejects" in result.output
    assert "Benjamini-Hochberg" in result.output
    plain = CliRunner().invoke(app, ["compare", "--storage", compared_store])
    assert "Wilcoxon" not in plain.output and "Holm's correction" in plain.output
