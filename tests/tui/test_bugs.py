"""Regression tests for the bugs of issue 16 (bug 1, a run cancelled while loading its data, is
tests/tui/test_live.py::test_a_job_cancelled_early_leaves_a_run_the_runs_screen_and_resume_know)."""

import json

import pytest
from textual import events
from textual.widgets import DataTable, Footer, Input, Log, Select, Static
from typer.testing import CliRunner

from morec_core.config import ConfigError
from morec_core.store import StoreError
from morec_tui.app import make_app
from morec_tui.cli import app as cli
from morec_tui.messages import OpenRun
from morec_tui.screens.compare import CompareScreen
from morec_tui.screens.jobs import JobsScreen
from morec_tui.screens.launch import BACKBONES, ENCODERS, LaunchScreen, check_run_fields
from morec_tui.screens.run_detail import RunDetailScreen
from morec_tui.screens.runs import RunsScreen
from morec_tui.widgets.run_rows import _bytes, arm_width, device_label
from tests.tui.fill import app_on, drive, loaded, wait_for


def _add_job(runs_dir, job_id: int) -> None:
    """A finished job queued after the others (the jobs file as JobQueue writes it)."""
    path = runs_dir / "jobs.json"
    raw = json.loads(path.read_text())
    job = dict(raw["jobs"][-1], id=job_id, label=f"demo id sasrec #{job_id}",
               created_at=raw["jobs"][-1]["created_at"] + 100, run_id=None)
    raw["jobs"].append(job)
    raw["next_id"] = job_id + 1
    path.write_text(json.dumps(raw))


def test_bug2_the_jobs_cursor_stays_on_its_job_when_a_new_job_comes(filled):
    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("j")
        screen = await loaded(app, pilot, JobsScreen)
        await pilot.press("down")  # job 2 (newest first: 3, 2, 1)
        await wait_for(pilot, lambda: screen.selected is not None and screen.selected.id == 2,
                       what="job 2 highlighted")
        _add_job(filled["runs"], 4)
        loads = screen.loads
        screen.reload()
        await wait_for(pilot, lambda: screen.loads > loads and len(screen.jobs) == 4,
                       what="the new job")
        assert screen.query_one("#jobs", DataTable).row_count == 4
        assert screen.selected.id == 2  # not job 3, now on the row job 2 was on

    drive(app_on(filled), body)


def test_bug3_moving_to_a_long_log_shows_its_end(filled):
    for job in (2, 3):
        (filled["runs"] / "logs" / f"job-{job}.log").write_text(
            "".join(f"job {job} line {line}\n" for line in range(300)))

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("j")
        screen = await loaded(app, pilot, JobsScreen)
        log = screen.query_one("#job-log", Log)
        await wait_for(pilot, lambda: log.lines[-1:] == ["job 3 line 299"]
                       and log.max_scroll_y > 20, what="job 3's log")
        log.scroll_to(y=20, animate=False)  # the reader scrolls up in job 3's log
        await pilot.pause(0.1)
        await pilot.press("down")
        await wait_for(pilot, lambda: log.lines[-1] == "job 2 line 299", what="job 2's log")
        await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y > 20,
                       what="the end of job 2's log")

    drive(app_on(filled), body)


def test_bug4_memory_device_and_arm_fit_their_columns():
    assert _bytes(1006 * 2**20) == "0.98G"  # was 1006.1M, cut to 1006.1 by the 6-wide column
    assert _bytes(1023 * 2**20) == "1.00G"
    assert _bytes(999 * 2**20) == "999.0M"
    assert _bytes(9 * 2**30) == "9.0G"
    assert all(len(_bytes(n * 2**20)) <= 6 for n in range(1, 5000, 7))
    assert device_label("cpu, fp32") == "cpu"
    assert device_label("cuda:0 (NVIDIA H100), bf16") == "cuda:0"
    assert arm_width(["text:minilm-l6/TS", "id"]) >= len("text:minilm-l6/TS")
    assert arm_width(["id"]) == 14


def test_bug4_a_single_run_shows_its_whole_arm_label(filled):
    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        table = screen.query_one("#runs")
        arm = next(column for column in table.columns if column.key == "arm")
        assert arm.width >= len("MobileNetV2 E2E")  # was cut to "MobileNetV2 E2"

    drive(app_on(filled), body)


def test_bug5_keys_typed_right_after_n_reach_the_form(filled):
    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        # Posted at once, as a fast typist's keys arrive: no pause for the form to mount.
        for key, character in (("n", "n"), ("x", "x"), ("y", "y"), ("tab", "\t"), ("z", "z")):
            app.post_message(events.Key(key, character))
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the form")
        form = app.screen
        await wait_for(pilot, lambda: form.query_one("#path", Input).value == "z",
                       what="z in the path field")
        assert form.query_one("#dataset", Input).value == "xy"
        assert form.query_one("#encoder", Input).value == "id"

    drive(app_on(filled), body)


def test_bug5_the_form_refuses_unknown_names_and_missing_paths(tmp_path):
    fields = dict(dataset="demo", path="", encoder="id", model="", backbone="sasrec")
    check_run_fields(**fields)
    for changed, message in ((dict(backbone="gru4rec"), "backbone: unknown 'gru4rec'"),
                             (dict(encoder="txt"), "encoder: unknown 'txt'"),
                             (dict(dataset="movielns"), "dataset: unknown 'movielns'"),
                             (dict(dataset="movielens"), "path: dataset 'movielens' needs"),
                             (dict(dataset="movielens", path=str(tmp_path / "no")),
                              "is not a folder")):
        with pytest.raises(ConfigError, match=message):
            check_run_fields(**{**fields, **changed})
    check_run_fields(**{**fields, "dataset": "movielens", "path": str(tmp_path)})


def test_bug5_the_form_shows_the_error_and_stays_open(filled):
    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("n")
        form = await loaded(app, pilot, LaunchScreen)
        form.query_one("#backbone", Input).value = "gru4rec"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, LaunchScreen)
        assert "backbone: unknown" in str(form.query_one("#launch-error", Static).render())

    drive(app_on(filled), body)


@pytest.mark.slow  # imports torch (the registries), some 2 s
def test_the_form_knows_the_registries_names():
    from morec_core.backbones import BACKBONES as REGISTERED_BACKBONES
    from morec_core.encoders import ENCODERS as REGISTERED_ENCODERS

    assert set(BACKBONES) == set(REGISTERED_BACKBONES)
    assert set(ENCODERS) == set(REGISTERED_ENCODERS)


def test_bug6_after_picking_a_table_enter_opens_the_best_run(filled):
    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("c")
        screen = await loaded(app, pilot, CompareScreen)
        await pilot.press("b")
        await wait_for(pilot, lambda: screen.query_one("#table-choice", Select).expanded,
                       what="the dropdown")
        await pilot.press("down", "enter")  # the second table: study hm-vision
        await wait_for(pilot, lambda: screen.chosen != "all studies" and screen.rows
                       and screen.loads >= 2, what="the picked table")
        await pilot.press("enter")
        detail = await loaded(app, pilot, RunDetailScreen)
        assert detail.run_id == screen.rows[0].best_run

    drive(app_on(filled), body)


def test_a_store_in_a_missing_folder_is_one_error_and_no_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MOREC_STORE", raising=False)
    missing = tmp_path / "missing" / "dir" / "x.db"
    with pytest.raises(StoreError, match="does not exist"):
        make_app(str(missing), runs_dir=tmp_path / "runs", gpus=[])
    result = CliRunner().invoke(cli, ["tui", "--store", str(missing)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: store {missing}: folder {missing.parent} does not exist"]
    assert not (tmp_path / "missing").exists()


def test_at_60x20_the_run_screen_keeps_its_footer(filled):
    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        app.post_message(OpenRun("a4" * 16))  # collapsed: the longest summary, with a reason
        screen = await loaded(app, pilot, RunDetailScreen)
        await pilot.pause(0.2)
        footer = screen.query_one(Footer)
        assert footer.region.height == 1 and footer.region.bottom == 20
        assert screen.query_one("#tabs").region.height >= 5  # the plots keep some room

    drive(app_on(filled), body, size=(60, 20))


def test_the_study_form_submits_to_slurm_only_with_a_server_store(filled, monkeypatch):
    """Issue 17: the form's Slurm choice; enabled where `squeue` answers, refused with a SQLite
    store in the form (before launch), and `--launcher slurm` on the job's command."""
    from textual.widgets import Checkbox, RadioButton, Select

    from morec_tui.jobs import study_argv

    monkeypatch.setattr("morec_core.study.slurm_jobs.slurm_available", lambda: True)

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("n")
        form = await loaded(app, pilot, LaunchScreen)
        form.query_one("#kind-study", RadioButton).value = True
        box = form.query_one("#slurm", Checkbox)
        await wait_for(pilot, lambda: not box.disabled, what="the Slurm box enabled")
        select = form.query_one("#study", Select)
        await wait_for(pilot, lambda: len(select._options) > 1, what="the studies")
        select.value = select._options[1][1]
        box.value = True
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, LaunchScreen)
        assert "needs a PostgreSQL store" in str(form.query_one("#launch-error", Static).render())

    drive(app_on(filled), body)
    argv = study_argv("demo", "postgresql+psycopg://u@h/db", launcher="slurm")
    assert argv[-2:] == ["--launcher", "slurm"]
    assert "--launcher" not in study_argv("demo", "postgresql+psycopg://u@h/db")
