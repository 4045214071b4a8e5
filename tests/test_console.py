import os
import re
import subprocess
import sys
from pathlib import Path

from morec_core.config import RunSpec
from morec_core.run import events as ev
from morec_tui.console import ConsoleSink, ProgressLines
from tests.synthetic import write_chain_dataset

ROOT = Path(__file__).resolve().parents[1]


def _progress(step: int, at: float, epoch: int = 0) -> ev.Progress:
    return ev.Progress(run_id="r", epoch=epoch, step=step, total_steps=100, loss=0.5, time=at)


def test_progress_lines_come_at_most_every_interval_with_rate_and_eta(capsys):
    lines = ProgressLines(epochs=3, batch_size=64, every_s=30.0, prefix="  trial A: ")
    lines(ev.Heartbeat(run_id="r", time=1000.0))  # any event before the steps starts the epoch
    for step, at in ((1, 1000.5), (10, 1020.0), (20, 1040.0), (25, 1050.0), (40, 1080.0)):
        lines(_progress(step, at))
    printed = capsys.readouterr().err.splitlines()
    # 1040 is 40 s into the epoch, 1080 is 40 s after that line; 1020 and 1050 are too soon.
    assert printed == [
        "  trial A: epoch 1/3: step 20/100, 32 samples/s, loss 0.5000, epoch ETA 2 min 40 s",
        "  trial A: epoch 1/3: step 40/100, 32 samples/s, loss 0.5000, epoch ETA 2 min 00 s"]
    # A new epoch starts its own count: its first line comes 30 s into it.
    lines(ev.CheckpointSaved(run_id="r", epoch=0, path="last.pt", time=2000.0))
    lines(_progress(5, 2010.0, epoch=1))
    lines(_progress(50, 2031.0, epoch=1))
    assert capsys.readouterr().err.splitlines() == [
        "  trial A: epoch 2/3: step 50/100, 103 samples/s, loss 0.5000, epoch ETA 31 s"]


def test_a_console_prints_progress_lines_only_where_stderr_is_no_terminal(capsys):
    for terminal in (True, False):
        sink = ConsoleSink(RunSpec(), terminal=terminal, progress_line_s=0.0)
        sink(ev.Heartbeat(run_id="r", time=1000.0))
        sink(_progress(50, 1100.0))
        sink(ev.EpochEnded(run_id="r", epoch=0, loss=0.5, learning_rates={}, seconds=100.0))
        printed = capsys.readouterr().err
        assert ("epoch 1/50: step 50/100, 64 samples/s" in printed) is not terminal, printed


def test_a_redirected_run_prints_progress_lines(tmp_path):
    data = write_chain_dataset(tmp_path / "chains", users=80, items=30)
    env = dict(os.environ, MOREC_DATA_DIR=str(tmp_path / "data_root"),
               MOREC_RUNS_DIR=str(tmp_path / "runs"), MOREC_PROGRESS_LINE_S="0")
    log = tmp_path / "run.log"
    with log.open("w") as output:
        result = subprocess.run(
            [sys.executable, "-m", "morec_tui.cli", "run", "--dataset", "pairs", "--path",
             str(data), "--storage", str(tmp_path / "runs" / "morec.db"),
             "--set", "train.epochs=2", "--set", "backbone.embed_dim=8",
             "--set", "train.batch_size=32"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, timeout=300)
    text = log.read_text()
    assert result.returncode == 0, text
    # Each epoch ends with a Progress event at its last step (the trainer's own throttle lets
    # it through), and an interval of 0 prints every one.
    for epoch in (1, 2):
        assert re.search(rf"^epoch {epoch}/2: step (\d+)/\1, [\d,]+ samples/s, loss [\d.]+, "
                         r"epoch ETA 0 s$", text, re.MULTILINE), text
    assert "\r" not in text  # no progress bar in a log


def test_a_workers_log_gets_epoch_lines_when_epochs_are_shorter_than_the_interval(capsys):
    """Epochs of 20 s under a 60 s interval printed nothing at all in a study worker's log."""
    lines = ProgressLines(epochs=4, batch_size=64, every_s=60.0, prefix="  t: ", epoch_lines=True)
    lines(ev.Heartbeat(run_id="r", time=0.0))
    for epoch in range(4):
        lines(_progress(50, 20.0 * epoch + 10.0, epoch=epoch))
        lines(ev.EpochEnded(run_id="r", epoch=epoch, loss=0.5, learning_rates={}, seconds=20.0,
                            time=20.0 * (epoch + 1)))
    # 60 s in (the third epoch's end), then the last epoch.
    assert capsys.readouterr().err.splitlines() == [
        "  t: epoch 3/4 done: loss 0.5000, 20 s", "  t: epoch 4/4 done: loss 0.5000, 20 s"]
    # Epochs longer than the interval: every epoch's line, whatever step lines came between.
    lines = ProgressLines(epochs=3, batch_size=64, every_s=30.0, epoch_lines=True)
    lines(ev.Heartbeat(run_id="r", time=0.0))
    for epoch in range(3):
        lines(_progress(75, 40.0 * epoch + 30.0, epoch=epoch))  # a step line 10 s before the end
        lines(ev.EpochEnded(run_id="r", epoch=epoch, loss=0.5, learning_rates={}, seconds=40.0,
                            time=40.0 * (epoch + 1)))
    assert [line for line in capsys.readouterr().err.splitlines() if "done" in line] == [
        f"epoch {epoch}/3 done: loss 0.5000, 40 s" for epoch in (1, 2, 3)]
    plain = ProgressLines(epochs=4, batch_size=64, every_s=60.0)
    plain(ev.EpochEnded(run_id="r", epoch=3, loss=0.5, learning_rates={}, seconds=20.0,
                        time=80.0))
    assert capsys.readouterr().err == ""  # a console prints its own epoch lines


def test_a_workers_epoch_line_carries_its_validation_and_the_trial_its_best(capsys):
    """A study worker's log says how the trial learns, not only its loss: each epoch line the
    epoch's validation value, and the run's end its best epoch's value."""
    lines = ProgressLines(epochs=3, batch_size=64, every_s=0.0, prefix="  t: ",
                          epoch_lines=True, metric="hr@10")
    for epoch, hit in enumerate((0.01, 0.03, 0.02)):
        lines(ev.EpochEnded(run_id="r", epoch=epoch, loss=0.5, learning_rates={}, seconds=20.0,
                            time=20.0 * (epoch + 1)))
        lines(ev.Evaluated(run_id="r", epoch=epoch, split="valid",
                           metrics={"hr@10": hit, "ndcg@10": hit / 2, "users": 100}))
    lines(ev.Evaluated(run_id="r", epoch=1, split="test", metrics={"hr@10": 0.5}))
    lines(ev.RunFinished(run_id="r", status="completed", best_epoch=1, best_value=0.03))
    assert capsys.readouterr().err.splitlines() == [
        "  t: epoch 1/3 done: loss 0.5000, 20 s, valid hr@10 0.0100",
        "  t: epoch 2/3 done: loss 0.5000, 20 s, valid hr@10 0.0300",
        "  t: epoch 3/3 done: loss 0.5000, 20 s, valid hr@10 0.0200",
        "  t: best valid hr@10 0.0300 at epoch 2"]
    # A resumed run whose best epoch was validated before the resume: the value is the event's.
    lines = ProgressLines(epochs=3, batch_size=64, every_s=0.0, prefix="  t: ",
                          epoch_lines=True, metric="hr@10")
    lines(ev.EpochEnded(run_id="r", epoch=2, loss=0.5, learning_rates={}, seconds=20.0, time=20.0))
    lines(ev.Evaluated(run_id="r", epoch=2, split="valid", metrics={"hr@10": 0.02}))
    lines(ev.RunFinished(run_id="r", status="completed", best_epoch=1, best_value=0.03))
    assert capsys.readouterr().err.splitlines() == [
        "  t: epoch 3/3 done: loss 0.5000, 20 s, valid hr@10 0.0200",
        "  t: best valid hr@10 0.0300 at epoch 2"]
    # An epoch without a validation (the next event is another) still gets its line.
    lines = ProgressLines(epochs=2, batch_size=64, every_s=0.0, epoch_lines=True, metric="hr@10")
    lines(ev.EpochEnded(run_id="r", epoch=0, loss=0.25, learning_rates={}, seconds=5.0, time=5.0))
    lines(ev.Heartbeat(run_id="r", time=6.0))
    assert capsys.readouterr().err.splitlines() == ["epoch 1/2 done: loss 0.2500, 5 s"]
    # Without a metric to name, no best line.
    lines = ProgressLines(epochs=2, batch_size=64, every_s=0.0, epoch_lines=True)
    lines(ev.RunFinished(run_id="r", status="completed", best_epoch=1, best_value=0.03))
    assert capsys.readouterr().err == ""
