"""A store holding rows no morec wrote: each column of each table corrupted in turn (text where
a number belongs, a blob where text does, a spec that is not a JSON object, an infinite metric,
NULL), and every reader still answers: no traceback, the damaged run named in one warning line,
the good runs shown."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from morec_core.store import Store
from morec_tui.cli import app
from tests.tui.fill import fill_store

TARGET = "a3" * 16
"""A completed MoRec run of the study mind-text; the other completed runs stay readable."""
GOOD = "a1" * 16
NUMBER_COLUMNS = {"trial_number", "seed", "pid", "started_at", "heartbeat_at", "finished_at",
                  "best_epoch", "best_value", "last_epoch", "trainable_params", "total_params",
                  "flops_per_sample", "seconds_per_epoch", "peak_memory_bytes", "epoch", "users",
                  "value", "created_at", "study_id"}


def _bad_value(table: str, column: str) -> object:
    if column == "spec_json":
        return "[1, 2]"  # JSON, but a list
    if column == "data":
        return b"PK\x03\x04 not a whole archive"
    if column in NUMBER_COLUMNS:
        return "abc"
    return b"\x00\xff"  # a blob where text belongs


def _cases() -> list[tuple[str, str]]:
    from morec_core.store.rows import Base

    cases = []
    for table in ("morec_runs", "morec_metrics", "morec_user_results", "morec_studies"):
        for column in Base.metadata.tables[table].columns:
            if column.name in ("id", "run_id") or (table == "morec_studies" and column.name == "name"):
                continue  # keys: changing them makes another row, not a damaged one
            cases.append((table, column.name))
    return cases


@pytest.fixture(scope="module")
def base_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("base") / "morec.db"
    with Store(path) as store:
        fill_store(store)
    return path


def _damaged_copy(base: Path, folder: Path, table: str, column: str) -> Path:
    path = folder / f"{table}-{column}.db"
    shutil.copy(base, path)
    where = {"morec_studies": "name = 'mind-text'", "morec_runs": f"id = '{TARGET}'",
             # one row: its test metric (a second row changed alike would clash on the key)
             "morec_metrics": f"run_id = '{TARGET}' AND split = 'test' AND name = 'hr@10'",
             "morec_user_results": f"run_id = '{TARGET}'"}[table]
    connection = sqlite3.connect(path)
    # The schema's NOT NULL and foreign keys hold for a NULL; a wrong type passes them.
    connection.execute(f"UPDATE {table} SET {column} = ? WHERE {where}",
                       (_bad_value(table, column),))
    connection.commit()
    connection.close()
    return path


def _no_traceback(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.parametrize(("table", "column"), _cases())
def test_a_damaged_column_is_one_warning_and_the_rest_is_shown(base_store, tmp_path, table,
                                                               column):
    path = _damaged_copy(base_store, tmp_path, table, column)
    for output_format in ("table", "json", "csv", "markdown", "latex"):
        result = CliRunner().invoke(app, ["compare", "--storage", str(path), "--format",
                                          output_format])
        _no_traceback(result)
        assert result.exit_code == 0, result.output
        assert GOOD[:8] in result.output or "IDRec" in result.output  # the good runs
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    if warnings:  # this column's damage is one the readers meet: the row is named
        named = "study " if table == "morec_studies" else TARGET
        assert named in warnings[0] and "damaged" in warnings[-1] and len(warnings) == 2
    report = CliRunner().invoke(app, ["report", "--study", "mind-text", "--storage", str(path),
                                      "--output", str(tmp_path / "r.md"), "--no-html",
                                      "--no-figures"])
    _no_traceback(report)
    assert report.exit_code == 0, report.output
    merged = CliRunner().invoke(app, ["store", "merge", str(path), "--into",
                                      str(tmp_path / "merged.db")])
    _no_traceback(merged)
    assert merged.exit_code == 0, merged.output
    assert GOOD in {run.id for run in Store(tmp_path / "merged.db").runs()}


HOSTILE = "x\x1b]0;pwned\x07\x1b[2J|a_b%\u202e<b>\n="
"""A title change, a screen clear, Markdown's cell bar, LaTeX specials, a bidi override, raw
HTML, a line break and a spreadsheet formula's start, in one name."""


def test_hostile_names_reach_no_output_raw(base_store, tmp_path):
    import csv
    import io
    import json

    path = tmp_path / "hostile.db"
    shutil.copy(base_store, path)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE morec_runs SET arm = ?, dataset = ? WHERE id IN (?, ?)",
                           (f"MiniLM {HOSTILE}", f"mind {HOSTILE}", TARGET, "a4" * 16))
        connection.execute("UPDATE morec_studies SET name = ? WHERE name = 'mind-text'",
                           (f"mind-text {HOSTILE}",))
    outputs = {}
    for output_format in ("table", "json", "csv", "markdown", "latex"):
        result = CliRunner().invoke(app, ["compare", "--storage", str(path), "--format",
                                          output_format])
        _no_traceback(result)
        assert result.exit_code == 0, result.output
        outputs[output_format] = result.output
        for raw in ("\x1b", "\x07", "\u202e"):
            assert raw not in result.output, (output_format, raw)
    assert "pwned" not in outputs["table"] and "<U+202E>" in outputs["table"]
    markdown = outputs["markdown"]
    assert markdown.count("|a_b") == markdown.count("\\|a_b") > 0  # no cell ends early
    assert "a\\_b\\%" in outputs["latex"]
    rows = list(csv.reader(io.StringIO(outputs["csv"].split("\nwarning:")[0])))
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)
    parsed = json.loads(outputs["json"].split("\nwarning:")[0])
    assert "MiniLM" in json.dumps(parsed["rows"])  # the rows are there, escaped by JSON


def test_store_check_lists_the_damage_and_repair_moves_it_aside_unlost(base_store, tmp_path):
    import json

    path = tmp_path / "morec.db"
    shutil.copy(base_store, path)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE morec_runs SET spec_json = '[1]' WHERE id = ?", (TARGET,))
        connection.execute("UPDATE morec_user_results SET data = x'00' WHERE run_id = ?",
                           (GOOD,))
        connection.execute("UPDATE morec_studies SET created_at = 'abc' WHERE name = "
                           "'hm-vision'")
    listed = CliRunner().invoke(app, ["store", "check", "--storage", str(path)])
    assert listed.exit_code == 1, listed.output
    lines = listed.output.splitlines()
    assert f"run {TARGET}: spec_json holds a JSON list, not an object" in lines
    assert any(line.startswith(f"per-user results of run {GOOD} (test): unreadable")
               for line in lines)
    assert any(line.startswith("study ") and "created_at is 'abc'" in line for line in lines)
    metrics_before = sqlite3.connect(path).execute(
        "SELECT count(*) FROM morec_metrics WHERE run_id = ?", (TARGET,)).fetchone()[0]
    repaired = CliRunner().invoke(app, ["store", "check", "--repair", "--storage", str(path)])
    assert repaired.exit_code == 0, repaired.output
    [aside] = tmp_path.glob("morec.db.set-aside-*.jsonl")
    records = [json.loads(line) for line in aside.read_text().splitlines()]
    tables = [record["table"] for record in records]
    assert tables.count("morec_runs") == 1 and tables.count("morec_metrics") == metrics_before
    assert {"morec_user_results", "morec_studies"} <= set(tables)
    assert CliRunner().invoke(app, ["store", "check", "--storage", str(path)]).exit_code == 0
    assert GOOD in {run.id for run in Store(path).runs()}  # the good run stays
