"""The new-job form under a burst of keys, as a terminal delivers them (issue 24): every key
lands in the field it was typed for, however fast it came after Tab or Ctrl+U."""

from textual import events
from textual.widgets import Input

from morec_tui.screens.launch import LaunchScreen
from morec_tui.screens.runs import RunsScreen
from tests.tui.fill import app_on, drive, loaded, wait_for

OVERRIDES = "train.epochs=3 train.lr=0.01"


def burst(app, keys):
    """Post every key at once, as the driver's input thread does: no waiting in between."""
    for key in keys:
        character = {"space": " "}.get(key, key if len(key) == 1 else None)
        app.post_message(events.Key(key, character))


def typed(text):
    return ["space" if char == " " else char for char in text]


def test_a_burst_after_n_tab_and_ctrl_u_loses_no_key(filled):
    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        for attempt in range(5):
            burst(app, ["n", "ctrl+u", *typed("demx"), "backspace", "o", *["tab"] * 5, "ctrl+u",
                        *typed(OVERRIDES)])
            form = await loaded(app, pilot, LaunchScreen)
            overrides = form.query_one("#overrides", Input)
            await wait_for(pilot, lambda field=overrides: field.value == OVERRIDES, timeout=5,
                           what=f"the overrides typed (attempt {attempt})")
            assert form.query_one("#dataset", Input).value == "demo"
            assert form.query_one("#backbone", Input).value == "sasrec"
            await pilot.press("escape")
            await loaded(app, pilot, RunsScreen)

    drive(app_on(filled), body)


def test_the_slurm_fields_reach_the_command_and_the_summary_says_what_goes(filled, monkeypatch,
                                                                           tmp_path):
    """Issue 24: the Slurm box submitted 1 job, 60 min, no GPU, no partition, with no field to
    change any of it; now jobs, partition, GPUs per trial, time and a --slurm-config file, and
    a summary line of what Ctrl+S submits."""
    from textual.widgets import Checkbox, RadioButton, Select, Static

    monkeypatch.setattr("morec_core.study.slurm_jobs.slurm_available", lambda: True)
    config = tmp_path / "cluster.toml"
    config.write_text('[slurm]\npartition = "a100"\naccount = "lab"\n')

    async def body(app, pilot):
        await loaded(app, pilot, RunsScreen)
        await pilot.press("n")
        form = await loaded(app, pilot, LaunchScreen)
        summary = form.query_one("#launch-summary", Static)
        await wait_for(pilot, lambda: "Ctrl+S queues demo id sasrec on the CPU slot"
                       in str(summary.render()), what="the run's summary")
        form.query_one("#kind-study", RadioButton).value = True
        box = form.query_one("#slurm", Checkbox)
        await wait_for(pilot, lambda: not box.disabled, what="the Slurm box enabled")
        select = form.query_one("#study", Select)
        await wait_for(pilot, lambda: len(select._options) > 1, what="the studies")
        select.value = select._options[1][1]
        assert not form.query_one("#slurm-fields").display
        box.value = True
        await pilot.pause()
        assert form.query_one("#slurm-fields").display
        for field, value in (("jobs", "4"), ("gpus", "2"), ("time", "240"),
                             ("config", str(config))):
            form.query_one(f"#slurm-{field}", Input).value = value
        await pilot.pause()
        text = str(summary.render())
        assert "to Slurm: 4 worker jobs on a100, 2 GPU(s) per trial, 240 min each" in text
        request = form._request(check_store=False)
        argv = list(request.argv)
        options = [argv[index + 1] for index, part in enumerate(argv) if part == "--slurm"]
        assert options == ["jobs=4", "gpus_per_trial=2", "time_min=240"]
        assert argv[argv.index("--slurm-config") + 1] == str(config.resolve())
        form.query_one("#slurm-time", Input).value = "soon"
        await pilot.pause()
        assert "not ready: slurm.time_min: a int, not 'soon'" in str(summary.render())
        await pilot.press("ctrl+s")  # refused in the form, not after launch
        assert isinstance(app.screen, LaunchScreen)

    drive(app_on(filled), body, size=(80, 30))
