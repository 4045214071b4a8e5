"""Issue 22: `morec tune` checks every distinct data view of a study before it queues anything
(a wrong column, file or setting, too little text for a MoRec arm: one line, exit 2, no store
written), and a study module that fails to load is one line naming the file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from morec_tui.cli import app

runner = CliRunner()


def _tune(tmp_path: Path, *arguments: str) -> tuple[int, list[str], Path]:
    store = tmp_path / "runs" / "morec.db"
    result = runner.invoke(app, ["tune", *arguments, "--storage", str(store)])
    return result.exit_code, result.output.splitlines(), store


def test_a_setting_the_reader_does_not_read_queues_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data"))
    code, lines, store = _tune(tmp_path, "--study", "demo", "--name", "x", "--set",
                               "data.user_column=nope")
    assert code == 2
    assert lines == ["error: study x: data.user_column: the demo reader does not read it (it "
                     "applies to data.source=table)"]
    assert not store.exists() and not (tmp_path / "runs").exists()


def _shop(folder: Path) -> Path:
    folder.mkdir()
    (folder / "interactions.csv").write_text("customer,sku\n" + "".join(
        f"c{user},s{(user + step) % 9}\n" for user in range(6) for step in range(6)))
    (folder / "items.csv").write_text("sku,title\n" + "".join(f"s{item},mug {item}\n"
                                                             for item in range(9)))
    return folder


def test_a_wrong_column_is_one_line_naming_the_file_and_nothing_is_queued(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data"))
    shop = _shop(tmp_path / "shop")
    code, lines, store = _tune(tmp_path, "--study", "demo", "--name", "x", "--set",
                               "data.source=table", "--set", f"data.path={shop}", "--set",
                               "data.user_column=nope", "--set", "data.item_column=sku")
    assert code == 2
    assert lines == [f"error: study x: {shop / 'interactions.csv'}: field 'nope': "
                     f"data.user_column names a missing column (found: customer, sku)"]
    assert not store.exists()
    prepared = tmp_path / "data" / "prepared"
    assert not prepared.exists() or not any(prepared.iterdir())


def _rechorus(folder: Path) -> Path:
    """ReChorus' layout with its own item_meta.csv: integer category codes, no text."""
    folder.mkdir()
    header = "user_id\titem_id\ttime\n"
    rows = [(user, (user + step) % 12 + 1, 100 * step + user) for user in range(1, 9)
            for step in range(6)]
    (folder / "train.csv").write_text(header + "".join(
        f"{user}\t{item}\t{time}\n" for user, item, time in rows if time < 400))
    (folder / "dev.csv").write_text(header.replace("\n", "\tneg_items\n") + "".join(
        f"{user}\t{item}\t{time}\t[1, 2]\n" for user, item, time in rows if 400 <= time < 500))
    (folder / "test.csv").write_text(header.replace("\n", "\tneg_items\n") + "".join(
        f"{user}\t{item}\t{time}\t[1, 2]\n" for user, item, time in rows if time >= 500))
    (folder / "item_meta.csv").write_text("item_id\ti_category\tr_complement\n" + "".join(
        f"{item}\t{item % 3}\t[]\n" for item in range(1, 13)))
    return folder


def test_a_morec_arm_on_category_codes_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data"))
    grocery = _rechorus(tmp_path / "Grocery")
    code, lines, store = _tune(tmp_path, "--study", "demo", "--name", "g", "--set",
                               "data.source=rechorus", "--set", f"data.path={grocery}", "--set",
                               "data.text_columns=i_category")
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: study g: {grocery}: field 'data.min_text_coverage': "
                               f"0.0% of the 12 items have usable text (0, 12 more only numbers "
                               f"or codes; read: item_meta.csv (column i_category)), below "
                               f"data.min_text_coverage=0.9: the arm would not be MoRec; put "
                               f"<name>.text")
    assert not store.exists()
    # An IDRec study on the same folder is not refused: it reads no text.
    from morec_core.config import DataConfig
    from morec_core.data.prepare import check_content, ensure_prepared

    config = DataConfig(source="rechorus", path=str(grocery), text_columns="i_category")
    assert ensure_prepared(config).is_dir()
    lowered = DataConfig(source="rechorus", path=str(grocery), text_columns="i_category",
                         min_text_coverage=0.0)
    assert check_content(lowered) == ensure_prepared(config)  # the threshold keys nothing


def test_a_study_module_that_fails_to_load_is_one_line(tmp_path, monkeypatch):
    # Set through monkeypatch first, so that what --debug sets in os.environ is undone after.
    monkeypatch.setenv("MOREC_DEBUG", "0")
    module = tmp_path / "broken.py"
    module.write_text("import a_module_nobody_wrote\n")
    code, lines, store = _tune(tmp_path, "--study", str(module))
    assert code == 2
    assert lines == [f"error: {module}: the study module failed to load: ModuleNotFoundError: "
                     "No module named 'a_module_nobody_wrote'"]
    debug = runner.invoke(app, ["--debug", "tune", "--study", str(module), "--storage",
                                str(store)])
    assert "Traceback" in debug.output and "a_module_nobody_wrote" in debug.output
    monkeypatch.setenv("MOREC_DEBUG", "0")
    # The same from the studies folder, for any study looked up there.
    monkeypatch.setenv("MOREC_STUDIES_DIR", str(tmp_path))
    code, lines, _ = _tune(tmp_path, "--study", "demo")
    assert code == 2 and lines == [f"error: {module}: the study module failed to load: "
                                   "ModuleNotFoundError: No module named 'a_module_nobody_wrote'"]


def test_a_study_module_building_on_another_study_loads(tmp_path, monkeypatch):
    """A module that calls find_study (the `--name` recipe written down) made every lookup
    recurse until a RecursionError of 2,000 lines."""
    (tmp_path / "mine.py").write_text(
        "from morec_core.studies import find_study\n"
        "STUDY = find_study('demo').renamed_with('mine', ['train.epochs=1'])\n")
    monkeypatch.setenv("MOREC_STUDIES_DIR", str(tmp_path))
    from morec_core.study.studies import find_study, load_studies

    assert {"mine", "demo"} <= set(load_studies())
    assert find_study("mine").arms == find_study("demo").arms


def test_the_preflight_says_where_each_views_text_came_from(tmp_path, monkeypatch):
    """The audit of every data view before anything is queued: content and warnings."""
    from morec_core.study.studies import find_study
    from morec_core.study.study_preflight import requirements_of

    monkeypatch.setenv("MOREC_DATA_DIR", str(tmp_path / "data"))
    grocery = _rechorus(tmp_path / "Grocery")
    study = find_study("demo").renamed_with("g", [
        "data.source=rechorus", f"data.path={grocery}", "data.text_columns=i_category",
        "data.min_text_coverage=0"])
    problems, lines = requirements_of(study).check_data()
    assert problems == []
    assert lines[0] == ("data Grocery (rechorus, text, text i_category): text: 12 of 12 items "
                        "(100.0%) from item_meta.csv (column i_category)")
    assert lines[1].startswith("warning: 12 of 12 item texts are only numbers or codes")
