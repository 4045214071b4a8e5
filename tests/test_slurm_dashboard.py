"""The jobs screen's Slurm pane, against fake squeue/scontrol/scancel on PATH: morec's Slurm
jobs with state, node and elapsed time, the log from the job's output file, `x` calls scancel."""

import os

from textual.widgets import DataTable, Log

from morec_core.study.slurm_jobs import log_paths
from morec_tui.screens.jobs import JobsScreen
from morec_tui.screens.runs import RunsScreen
from tests.tui.fill import app_on, drive, loaded, wait_for


def test_the_jobs_screen_shows_morecs_slurm_jobs_their_log_and_cancels_one(tmp_path,
                                                                            monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "squeue": 'echo "77|morec-demo|RUNNING|gpu3|1:02|None"; '
                  'echo "78|someone-else|RUNNING|gpu4|0:10|None"',
        "scontrol": 'echo "JobId=77 JobName=morec-demo JobState=RUNNING Restarts=0"',
        "scancel": f'echo "$@" > {tmp_path / "scancelled"}',
    }
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    places = {"store": tmp_path / "morec.db", "runs": tmp_path / "runs",
              "studies": tmp_path / "studies"}
    places["studies"].mkdir()
    monkeypatch.setenv("MOREC_RUNS_DIR", str(places["runs"]))
    out, _ = log_paths(places["runs"].resolve(), "77")
    out.parent.mkdir(parents=True)
    out.write_text("worker for study demo in Slurm job 77 (restart 0)\n")
    app = app_on(places)

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("j")
        screen = await loaded(app, pilot, JobsScreen)
        pane = screen.query_one("#slurm-pane")
        await wait_for(pilot, lambda: pane.display, what="the Slurm pane")
        table = screen.query_one("#slurm-jobs", DataTable)
        assert table.row_count == 1  # someone else's job is not morec's to show
        assert [str(cell) for cell in table.get_row_at(0)] == [
            "77", "running", "gpu3", "1:02", "demo"]
        log = screen.query_one("#slurm-log", Log)
        await wait_for(pilot, lambda: any("Slurm job 77" in line for line in log.lines),
                       what="the job's log")
        table.focus()
        await pilot.press("x")
        await pilot.press("y")
        await wait_for(pilot, lambda: (tmp_path / "scancelled").exists(), what="scancel")
        assert (tmp_path / "scancelled").read_text().split() == ["77"]

    drive(app, body)
