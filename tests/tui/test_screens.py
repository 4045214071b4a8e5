"""Pilot tests of the dashboard's screens on a store with fixed runs (no job processes)."""

import sqlite3
import time

from sqlalchemy.exc import OperationalError
from textual.widgets import (
    Checkbox,
    DataTable,
    Input,
    Log,
    RadioButton,
    Select,
    SelectionList,
    Static,
)

from morec_core.results.compare import compare_rows
from morec_core.store import Store
from morec_tui.app import make_app
from morec_tui.jobs import Gpu, Job
from morec_tui.messages import OpenRun
from morec_tui.screens.compare import CompareScreen
from morec_tui.screens.jobs import JobsScreen
from morec_tui.screens.launch import LaunchScreen
from morec_tui.screens.run_detail import RunDetailScreen
from morec_tui.screens.runs import RunsScreen
from morec_tui.widgets.compare_view import compare_cells
from morec_tui.widgets.curves import CurvePlot
from morec_tui.widgets.runs_table import RunsTable
from tests.tui.fill import PLANS, app_on, drive, loaded, wait_for

COLLAPSED = "a4" * 16


def test_runs_screen_lists_filters_and_sorts_every_run(filled):
    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        table = screen.query_one(RunsTable)
        assert table.keys == [plan.run_id for plan in reversed(PLANS)]  # newest first
        statuses = {str(table.cells(plan.run_id)[0]) for plan in PLANS}
        assert statuses == {"completed", "pruned", "collapsed", "failed", "running",
                            "interrupted"}
        collapsed = table.cells(COLLAPSED)
        assert "on red" in str(collapsed[0].style)
        assert all(str(cell.style) == "red" for cell in collapsed[1:])  # the row stands out

        await pilot.press("slash", *"minilm", "enter")
        assert table.has_focus and screen.query_one("#filter", Input).value == "minilm"
        assert table.keys == ["a5" * 16, COLLAPSED, "a3" * 16]
        # Only the statuses some run has (issue 24: f stepped through empty ones):
        # any -> running -> completed -> pruned -> collapsed.
        await pilot.press("f", "f", "f", "f")
        assert screen.status == "collapsed" and table.keys == [COLLAPSED]
        assert "at random level" in str(screen.query_one("#reason", Static).render())

        screen.query_one("#filter", Input).value = ""
        await pilot.press("f", "f", "f")  # -> interrupted -> failed -> any
        assert screen.status == "*" and len(table.keys) == len(PLANS)
        await pilot.press("s", "s", "s")  # newest -> status -> study -> valid
        assert screen.sort == "valid" and table.keys[0] == "c1" * 16  # best validation
        await pilot.press("S")
        assert table.keys[-1] == "c1" * 16
        await pilot.press("t")  # the first study
        assert screen.study == "hm-vision" and {key[:2] for key in table.keys} == {"b1", "b2",
                                                                                  "b3"}
        await pilot.press("enter")
        detail = await loaded(app, pilot, RunDetailScreen)
        assert detail.run_id == table.keys[table.cursor]

    drive(app_on(filled), body)


def test_compare_screen_shows_the_tables_of_morec_compare(filled):
    width = 100
    with Store(filled["store"]) as store:
        rows_all = compare_rows(store, ["hm-vision", "mind-text"])
        expected_all = compare_cells(rows_all, "ndcg@10", width)
        expected_hm = compare_cells(compare_rows(store, ["hm-vision"]), "ndcg@10", width)
        # A group's studies in their module's order, as `morec compare --group` has them.
        expected_group = compare_cells(compare_rows(store, ["mind-text", "hm-vision"]),
                                       "ndcg@10", width)

    def cells(screen):
        table = screen.query_one("#compare", DataTable)
        header = [str(column.label) for column in table.ordered_columns]
        return [header, *[[str(cell) for cell in table.get_row_at(row)]
                          for row in range(table.row_count)]]

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("c")
        screen = await loaded(app, pilot, CompareScreen)
        assert screen.metric == "ndcg@10"
        assert cells(screen) == expected_all
        # The MoRec arm with per-user results on both sides has its verdict, coloured, and
        # its Δ and Improv. with their intervals; the notes say how to read them.
        table = screen.query_one("#compare", DataTable)
        minilm = [row.arm for row in screen.rows].index("MiniLM E2E")
        line = table.get_row_at(minilm)
        assert [str(cell) for cell in line].count("MoRec better") == 1
        assert {str(cell.style) for cell in line if str(cell) == "MoRec better"} == {"bold green"}
        assert any(str(cell).startswith("+") and "[" in str(cell) for cell in line)
        note = str(screen.query_one("#note", Static).render())
        assert "verdicts: each MoRec arm against the best IDRec arm" in note
        assert "hm-vision/MobileNetV2 E2E: no verdict: no completed run" in note
        # Accuracy against cost and the tuning audit, computed as `morec report` does.
        assert "accuracy vs cost, mind (text), sasrec, bce" in note
        assert "audit: mind-text/IDRec: grid " in note
        # Each column as wide as its widest cell from the moment it is filled, not only after
        # the table's next Idle (a frame drawn before that kept the header's width).
        for index, column in enumerate(table.ordered_columns):
            assert not column.auto_width
            assert column.width == max(len(row[index]) for row in expected_all)
        # The cost per arm, under it.
        cost = screen.query_one("#cost", DataTable)
        assert cost.display and str(cost.ordered_columns[2].label) == "trainable params"
        assert cost.row_count == len([row for row in rows_all if row.cost])
        await pilot.press("m")
        assert screen.metric == "hr@10"
        await wait_for(pilot, lambda: cells(screen) == compare_cells(rows_all, "hr@10", width),
                       what="the hr@10 table")
        await pilot.press("m")
        assert [choice.label for choice in screen.choices] == [
            "all studies", "study hm-vision", "study mind-text", "group table2"]
        await pilot.press("g")
        await wait_for(pilot, lambda: cells(screen) == expected_hm, what="the hm-vision table")
        await pilot.press("g", "g")
        await wait_for(pilot, lambda: cells(screen) == expected_group, what="the table2 group")
        assert screen.chosen == "group table2"
        await pilot.press("down", "enter")  # second row: its best run
        detail = await loaded(app, pilot, RunDetailScreen)
        assert detail.run_id == screen.rows[1].best_run

    drive(app_on(filled), body, size=(width, 30))


def test_run_detail_shows_curves_cost_spec_and_reason(filled):
    plan = next(plan for plan in PLANS if plan.run_id == COLLAPSED)

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        app.post_message(OpenRun(COLLAPSED))
        screen = await loaded(app, pilot, RunDetailScreen)
        assert screen.query_one("#loss", CurvePlot).points == len(plan.valid)
        # One plot per metric, each run's best epoch marked (a cross on the line).
        assert screen.query_one("#valid-ndcg", CurvePlot).points == len(plan.valid)
        assert screen.query_one("#valid-hr", CurvePlot).points == len(plan.valid)
        best = max(range(len(plan.valid)), key=lambda epoch: plan.valid[epoch])
        assert screen.query_one("#valid-ndcg", CurvePlot).marked == {
            "ndcg@10": (best + 1, plan.valid[best])}
        summary = str(screen.query_one("#summary", Static).render())
        assert "collapsed: validation ndcg@10 0.0009 is at random level" in summary
        assert "2.4M/24.0M params trained" in summary
        await pilot.press("2")
        assert "encoder.name = text" in str(screen.query_one("#spec-text", Static).render())
        await pilot.press("3")
        assert "started outside this dashboard" in "\n".join(
            screen.query_one("#log-text", Log).lines)

    drive(app_on(filled), body)


def test_jobs_screen_shows_jobs_logs_and_opens_their_runs(filled):
    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("j")
        screen = await loaded(app, pilot, JobsScreen)
        table = screen.query_one("#jobs", DataTable)
        assert [str(table.get_row_at(row)[1]) for row in range(3)] == [
            "cancelled", "failed", "completed"]
        assert screen.query_one("#job-log", Log).lines[-1] == "job 3: cancelled"
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.query_one("#job-log", Log).lines[-1:] == [
            "job 2: failed"], what="the log of job 2")
        await pilot.press("x")  # a finished job: nothing to cancel
        assert isinstance(app.screen, JobsScreen)
        await pilot.press("up", "enter")  # job 3 ran run c1...: its detail, with the job's log
        detail = await loaded(app, pilot, RunDetailScreen)
        assert detail.run_id == "c1" * 16
        assert detail.query_one("#log-text", Log).lines[-1] == "job 3: cancelled"
        await pilot.press("escape", "down", "down", "enter")  # a study job: its runs
        runs = await loaded(app, pilot, RunsScreen)
        assert runs.study == "mind-text"

    drive(app_on(filled), body)


def test_a_store_that_fails_for_a_while_is_shown_and_retried(filled, monkeypatch):
    app = app_on(filled, poll_s=0.2)
    real_versions, failures = app.store.run_versions, []

    def flaky_versions():
        if len(failures) < 3:
            failures.append(1)
            raise OperationalError("SELECT", {}, Exception("database is locked"))
        return real_versions()

    monkeypatch.setattr(app.store, "run_versions", flaky_versions)

    async def body(app, pilot):
        problem = app.screen.query_one("#problem", Static)
        await wait_for(pilot, lambda: problem.display, what="the problem line")
        assert "database is locked" in str(problem.render())
        # The first paint (the newest runs) reads no versions; the full loads after it fail
        # until the store answers, then the line goes.
        loads = app.screen.loads
        screen = await loaded(app, pilot, RunsScreen, loads=loads + 1)
        await wait_for(pilot, lambda: not problem.display
                       and len(screen.query_one(RunsTable).keys) == len(PLANS),
                       what="the problem line gone and every run shown")

    drive(app, body)


def test_a_locked_store_never_blocks_the_ui(filled):
    """A writer holds the SQLite lock: reads go on (WAL) and the reaper waits in its worker."""
    app = app_on(filled, poll_s=0.2, reap_s=0.2)
    holder = sqlite3.connect(filled["store"], timeout=1, isolation_level=None)

    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        holder.execute("BEGIN IMMEDIATE")
        try:
            before, started = screen.loads, time.monotonic()
            await wait_for(pilot, lambda: screen.loads >= before + 3, what="reloads")
            await pilot.press("c")
            await loaded(app, pilot, CompareScreen)
            # Blocked, a read would wait out SQLite's busy timeout (60 s) at least; the bound
            # leaves a loaded CI machine room (5 s was exceeded once at load 6).
            assert time.monotonic() - started < 30
        finally:
            holder.execute("ROLLBACK")
        await pilot.press("r")
        await loaded(app, pilot, RunsScreen, loads=before + 4)

    try:
        drive(app, body)
    finally:
        holder.close()


def test_the_launch_form_checks_overrides_and_queues_a_study_on_the_picked_gpus(filled,
                                                                                monkeypatch):
    app = make_app(str(filled["store"]), runs_dir=filled["runs"], studies_dir=filled["studies"],
                   gpus=[Gpu("0", "NVIDIA H100"), Gpu("1", "NVIDIA H100")], poll_s=60)
    requests = []

    def submit(request):
        requests.append(request)
        return Job(id=9, kind=request.kind, label=request.label, argv=request.argv,
                   candidates=request.candidates)

    monkeypatch.setattr(app.queue, "submit", submit)

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the form")
        form = app.screen
        form.query_one("#overrides", Input).value = "train.lrr=1"
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, LaunchScreen)
        assert "unknown key train.lrr" in str(form.query_one("#launch-error", Static).render())
        form.query_one("#kind-study", RadioButton).value = True
        await wait_for(pilot, lambda: form.query_one("#study-fields").display, what="studies")
        await wait_for(pilot, lambda: len(form.query_one("#study", Select)._options) > 1,
                       what="the study list")
        form.query_one("#study", Select).value = "mind-text"
        form.query_one("#compile", Checkbox).value = True
        form.query_one("#gpus", SelectionList).select_all()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: requests, what="the job request")
        await wait_for(pilot, lambda: isinstance(app.screen, JobsScreen), what="the jobs screen")

    drive(app, body)
    (request,) = requests
    assert (request.kind, request.study, request.label) == ("study", "mind-text", "study mind-text")
    assert request.argv[-6:] == ("tune", "--study", "mind-text", "--storage", app.store.url,
                                 "--compile")
    assert request.candidates == ("0", "1") and request.slots_needed == 2
    assert request.env == {"MOREC_STUDIES_DIR": str(filled["studies"].resolve())}


def test_the_launch_forms_plan_button_plans_the_study_and_queues_nothing(filled, monkeypatch):
    """Plan shows `morec plan`'s summary in the form (the measuring is morec_core.study.plan's,
    tested in tests/test_plan.py: replaced here by a fixed plan) and launches nothing."""
    from morec_core.study import plan as plan_module
    from tests.test_plan import measurement

    planned = []

    def make_plan(study, **options):
        planned.append((study.name, options["workers"]))
        row = plan_module.PlanRow(arm="IDRec", variant="", cost_key="k",
                                  measurement=measurement(12.0, 3.0, 5.0),
                                  search_trials=2, seed_trials=2, epochs_upper=10,
                                  epochs_expected=None)
        return plan_module.Plan(study=study.name, workers=options["workers"],
                                worker_kind=options["worker_kind"], rows=(row,), notes=(),
                                store="x")

    monkeypatch.setattr(plan_module, "make_plan", make_plan)
    app = make_app(str(filled["store"]), runs_dir=filled["runs"], studies_dir=filled["studies"],
                   gpus=[], poll_s=60)
    requests = []
    monkeypatch.setattr(app.queue, "submit", requests.append)

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), what="the form")
        form = app.screen
        form.query_one("#kind-study", RadioButton).value = True
        await wait_for(pilot, lambda: len(form.query_one("#study", Select)._options) > 1,
                       what="the study list")
        form.query_one("#study", Select).value = "mind-text"
        form.query_one("#plan").press()
        result = form.query_one("#plan-result", Static)
        await wait_for(pilot, lambda: "trials;" in str(result.render()), what="the plan")
        text = str(result.render())
        assert "IDRec: 12.0 s/epoch, eval 3.0 s" in text
        assert "4 trials; device-hours at most 0.168 h" in text  # 4 x 10 x (12 + 3) s + 5 s
        assert isinstance(app.screen, LaunchScreen)

    drive(app, body)
    assert planned == [("mind-text", 1)] and requests == []
    assert (filled["runs"] / "plans" / "mind-text.json").is_file()


def test_the_mouse_sorts_by_a_header_and_opens_a_run_with_a_second_click(filled):
    async def body(app, pilot):
        screen = await loaded(app, pilot, RunsScreen)
        table = screen.query_one(RunsTable)
        await pilot.click(RunsTable, offset=(50, 0))  # the "valid" header
        assert screen.sort == "valid" and table.keys[0] == "c1" * 16
        await pilot.click(RunsTable, offset=(2, 3))
        assert table.cursor == 2 and isinstance(app.screen, RunsScreen)
        await pilot.click(RunsTable, offset=(2, 3))
        detail = await loaded(app, pilot, RunDetailScreen)
        assert detail.run_id == table.keys[2]

    drive(app_on(filled), body)
