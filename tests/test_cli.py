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
